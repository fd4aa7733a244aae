/** Distinct operation names kept as label values per process; the console needs far fewer. */
export const MAX_OPERATION_NAMES = 200;

/** A GraphQL name as the spec allows it, at most 64 characters. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * Operation names as metric labels. Callers choose them, so each new one would be a new time
 * series held for the process's life: the first MAX_OPERATION_NAMES names are kept, any later
 * (or malformed) one is "(other)", an unnamed operation "(anonymous)". Parentheses cannot occur
 * in a GraphQL name, so no caller can pass for either. Only a signed-in caller's operation
 * can add a name (`admit`): a stranger could otherwise spend every slot on junk, and the
 * console's real names would read "(other)" until the process restarts.
 */
export class OperationNames {
  private readonly kept = new Set<string>();

  constructor(private readonly max = MAX_OPERATION_NAMES) {}

  label(name: string | undefined, admit: boolean): string {
    if (!name) return "(anonymous)";
    if (this.kept.has(name)) return name;
    if (!admit || this.kept.size >= this.max || !NAME.test(name)) return "(other)";
    this.kept.add(name);
    return name;
  }
}
