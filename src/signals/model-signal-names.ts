/**
 * Signal type names for a pipeline's models of one kind: `base` for a lone model, `base-<id>` for
 * each of several. The pipeline isolates failures per signal type, so one type per model means a
 * model that cannot run is a partial error naming its type, and the other models' signals count.
 */
export function modelSignalTypeNames(base: string, modelIds: readonly string[]): string[] {
  if (modelIds.length <= 1) return modelIds.map(() => base);
  const taken = new Set<string>();
  return modelIds.map((id) => uniqueName(`${base}-${kebab(id)}`, taken));
}

/** A model id (lowercase letters, digits, `.`, `_`, `-`) as the kebab-case a signal type's name is. */
function kebab(id: string): string {
  return id.replace(/[^a-z0-9]+/g, '-').replace(/-$/, '');
}

/** `name`, or `name-2`, `name-3`...: ids that differ only in punctuation must not collide. */
function uniqueName(name: string, taken: Set<string>): string {
  let unique = name;
  for (let n = 2; taken.has(unique); n++) unique = `${name}-${n}`;
  taken.add(unique);
  return unique;
}
