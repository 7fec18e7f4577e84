/**
 * Generated names for processors and stores, as Kafka Streams makes them: a prefix and a 10-digit
 * index from one counter per builder, e.g. KSTREAM-FILTER-0000000001. They depend only on the
 * order of DSL calls, so the same code builds the same names; but inserting an operator shifts
 * every later index, which is why topologies that keep state should name their stateful operators.
 */
export class NameGenerator {
  private index = 0;

  next(prefix: string): string {
    return `${prefix}${String(this.index++).padStart(10, '0')}`;
  }

  /** The user's name when given, else a generated one. */
  orNext(given: string | undefined, prefix: string): string {
    return given ?? this.next(prefix);
  }

  storeName(given: string | undefined, prefix: string): string {
    return given ?? this.next(`${prefix}STATE-STORE-`);
  }
}
