/**
 * Just enough PromQL to check the label names a query uses against the labels its series have:
 * matchers (`{label="..."}`), `by`/`without` of aggregations, `on`/`ignoring`/`group_*` of binary
 * operators, each against the labels that reach that point (an inner `max by (queue)` leaves only
 * `queue` for the aggregation around it). It also tells which aggregations drop a label (such as
 * the fleet's `prefix`) from series that no matcher pins to one value, i.e. merge their values.
 */

/** The label names a series has, undefined for a series nobody exports. */
export type SeriesLabels = (series: string) => ReadonlySet<string> | undefined;

export interface LabelCheck {
  /** Labels of the result series (what `{{ $labels.x }}` and legends can name). */
  labels: string[];
  /** Label names used where the series do not have them (and series nobody exports). */
  problems: string[];
  /** Aggregations that drop `keep` from series not pinned to one value of it by an `=` matcher. */
  merging: string[];
}

interface Flow {
  /** Labels the expression's result series have. */
  labels: Set<string>;
  /** Labels every selector in it fixes with an `=` matcher. */
  pinned: Set<string>;
  scalar: boolean;
}

type Token = { kind: 'ident' | 'number' | 'string' | 'range' | 'op' | 'punct'; text: string };

const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);
/** Aggregations whose result series are input series (the grouping only decides which). */
const SELECTING = new Set(['topk', 'bottomk', 'limitk', 'limit_ratio']);
const PRECEDENCE: Record<string, number> = { or: 1, and: 2, unless: 2, '==': 3, '!=': 3, '<=': 3, '<': 3, '>=': 3, '>': 3, '+': 4, '-': 4, '*': 5, '/': 5, '%': 5, atan2: 5, '^': 6 };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const patterns: Array<[Token['kind'] | 'skip', RegExp]> = [
    ['skip', /^(?:\s+|#[^\n]*)/],
    ['string', /^(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)/],
    ['range', /^\[[^\]]*\]/],
    ['number', /^\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:[a-z]+\d*)*/],
    ['ident', /^[a-zA-Z_:][a-zA-Z0-9_:]*/],
    ['op', /^(?:==|!=|>=|<=|=~|!~|[=<>+\-*/%^@])/],
    ['punct', /^[(){},]/],
  ];
  let rest = text;
  outer: while (rest.length) {
    for (const [kind, pattern] of patterns) {
      const match = pattern.exec(rest);
      if (!match) continue;
      if (kind !== 'skip') tokens.push({ kind, text: match[0] });
      rest = rest.slice(match[0].length);
      continue outer;
    }
    throw new Error(`cannot read PromQL at ${JSON.stringify(rest.slice(0, 20))} in ${text}`);
  }
  return tokens;
}

/** Checks one PromQL expression; `keep` is the label aggregations must not merge away (see LabelCheck). */
export function checkPromqlLabels(expression: string, labelsOf: SeriesLabels, keep = 'prefix'): LabelCheck {
  const tokens = tokenize(expression);
  const problems: string[] = [];
  const merging: string[] = [];
  let at = 0;

  const peek = (offset = 0) => tokens[at + offset];
  const next = () => {
    const token = tokens[at++];
    if (!token) throw new Error(`unexpected end of ${expression}`);
    return token;
  };
  const expect = (text: string) => {
    const token = next();
    if (token.text !== text) throw new Error(`expected ${text}, found ${token.text} in ${expression}`);
  };
  const isText = (text: string, offset = 0) => peek(offset)?.text === text;
  const vector = (labels: Iterable<string>, pinned: Iterable<string> = []): Flow => ({ labels: new Set(labels), pinned: new Set(pinned), scalar: false });
  const SCALAR: Flow = { labels: new Set(), pinned: new Set(), scalar: true };

  const requireLabels = (where: string, names: readonly string[], flow: Flow) => {
    for (const name of names) if (!flow.labels.has(name)) problems.push(`${where}: no label ${name} (has ${[...flow.labels].sort().join(', ') || 'none'})`);
  };

  function labelList(): string[] {
    expect('(');
    const names: string[] = [];
    while (!isText(')')) {
      names.push(next().text);
      if (isText(',')) next();
    }
    expect(')');
    return names;
  }

  function args(): Flow[] {
    expect('(');
    const list: Flow[] = [];
    while (!isText(')')) {
      list.push(expr(0));
      if (isText(',')) next();
    }
    expect(')');
    return list;
  }

  function selector(name: string): Flow {
    const labels = labelsOf(name);
    if (!labels) problems.push(`${name}: no such series`);
    const pinned: string[] = [];
    if (isText('{')) {
      next();
      while (!isText('}')) {
        const label = next().text;
        const op = next().text;
        next(); // the value
        if (label !== '__name__' && labels && !labels.has(label)) problems.push(`${name}{${label}${op}...}: no label ${label}`);
        if (op === '=') pinned.push(label);
        if (isText(',')) next();
      }
      expect('}');
    }
    return vector(labels ?? [], pinned);
  }

  function aggregation(op: string): Flow {
    if (op === 'count_values') throw new Error(`count_values is not supported by this check yet: ${expression}`);
    let grouping: { without: boolean; names: string[] } | undefined;
    const readGrouping = () => {
      if (isText('by') || isText('without')) grouping = { without: next().text === 'without', names: labelList() };
    };
    readGrouping();
    const list = args();
    readGrouping();
    const input = list.at(-1)!;
    const names = grouping?.names ?? [];
    requireLabels(`${op} ${grouping?.without ? 'without' : 'by'} (${names.join(', ')})`, names, input);
    let labels: Set<string>;
    if (SELECTING.has(op)) labels = input.labels;
    else if (!grouping) labels = new Set();
    else if (grouping.without) labels = new Set([...input.labels].filter((l) => !names.includes(l)));
    else labels = new Set(names.filter((l) => input.labels.has(l)));
    if (input.labels.has(keep) && !labels.has(keep) && !input.pinned.has(keep)) merging.push(`${op}${grouping ? ` ${grouping.without ? 'without' : 'by'} (${names.join(', ')})` : ''} drops ${keep}`);
    return vector(labels, [...input.pinned].filter((l) => labels.has(l)));
  }

  function call(name: string): Flow {
    if (name === 'label_replace' || name === 'label_join') throw new Error(`${name} is not supported by this check yet: ${expression}`);
    const list = args();
    if (['time', 'scalar', 'pi'].includes(name)) return SCALAR;
    if (['vector', 'absent', 'absent_over_time'].includes(name)) return vector([]);
    const input = list.find((flow) => !flow.scalar) ?? vector([]);
    if (name === 'histogram_quantile') requireLabels('histogram_quantile', ['le'], input);
    if (name !== 'histogram_quantile') return input;
    const labels = new Set([...input.labels].filter((l) => l !== 'le'));
    return vector(labels, [...input.pinned].filter((l) => labels.has(l)));
  }

  function primary(): Flow {
    const token = next();
    if (token.kind === 'number' || token.kind === 'string') return SCALAR;
    if (token.text === '(') {
      const inner = expr(0);
      expect(')');
      return inner;
    }
    if (token.text === '-' || token.text === '+') return primary();
    if (token.kind !== 'ident') throw new Error(`unexpected ${token.text} in ${expression}`);
    if (AGGREGATIONS.has(token.text) && (isText('(') || isText('by') || isText('without'))) return aggregation(token.text);
    if (isText('(')) return call(token.text);
    return selector(token.text);
  }

  /** A primary and its range, subquery, `offset` and `@` modifiers (none changes labels). */
  function operand(): Flow {
    const flow = primary();
    for (;;) {
      if (peek()?.kind === 'range') next();
      else if (isText('offset')) {
        next();
        if (isText('-')) next();
        next();
      } else if (isText('@')) {
        next();
        next();
        if (isText('(')) args();
      } else return flow;
    }
  }

  /** Precedence climbing over the binary operators, with their matching modifiers. */
  function expr(minPrecedence: number): Flow {
    let left = operand();
    for (;;) {
      const op = peek()?.text;
      const precedence = op === undefined ? undefined : PRECEDENCE[op];
      if (precedence === undefined || precedence < minPrecedence) return left;
      next();
      if (isText('bool')) next();
      let matching: { on: boolean; names: string[] } | undefined;
      let group: { left: boolean; names: string[] } | undefined;
      if (isText('on') || isText('ignoring')) matching = { on: next().text === 'on', names: labelList() };
      if (isText('group_left') || isText('group_right')) group = { left: next().text === 'group_left', names: isText('(') ? labelList() : [] };
      const right = expr(op === '^' ? precedence : precedence + 1);
      left = combine(op!, left, right, matching, group);
    }
  }

  function combine(op: string, left: Flow, right: Flow, matching?: { on: boolean; names: string[] }, group?: { left: boolean; names: string[] }): Flow {
    if (left.scalar) return right;
    if (right.scalar) return left;
    if (matching) {
      requireLabels(`${op} ${matching.on ? 'on' : 'ignoring'} (left side)`, matching.names, left);
      requireLabels(`${op} ${matching.on ? 'on' : 'ignoring'} (right side)`, matching.names, right);
    }
    if (op === 'or') return vector(new Set([...left.labels, ...right.labels]), [...left.pinned].filter((l) => right.pinned.has(l)));
    if (group) {
      const [many, one] = group.left ? [left, right] : [right, left];
      requireLabels(`group_${group.left ? 'left' : 'right'}`, group.names, one);
      return vector(new Set([...many.labels, ...group.names]), many.pinned);
    }
    if (!matching || op === 'and' || op === 'unless') return left;
    const labels = matching.on ? new Set(matching.names) : new Set([...left.labels].filter((l) => !matching.names.includes(l)));
    return vector(labels, [...left.pinned].filter((l) => labels.has(l)));
  }

  const result = expr(0);
  if (at !== tokens.length) throw new Error(`unexpected ${tokens[at]!.text} in ${expression}`);
  return { labels: [...result.labels].sort(), problems, merging };
}
