/**
 * `value` when it is a whole number from `min` to `max`, else a RangeError naming the option: the
 * client and the verdict consumer refuse an option out of range alike, before connecting.
 */
export function integerOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const chosen = value ?? fallback;
  if (!Number.isInteger(chosen) || chosen < min || chosen > max) throw new RangeError(`${name}: ${String(chosen).slice(0, 80)} must be a whole number from ${min} to ${max}`);
  return chosen;
}
