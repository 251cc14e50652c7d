import type { Compilable, CompiledQuery, Kysely } from "kysely";
import type { StoreDatabase } from "./schema.js";

/** Stands for one parameter while a template is compiled: a row's column, or a per-call argument. */
class Slot {
  constructor(
    readonly row: number,
    readonly name: string,
  ) {}
}

interface Template<Result> {
  compiled: CompiledQuery<Result>;
  /**
   * Where each parameter comes from: >= 0 is an offset into the chunk's values, -1 - i is the
   * i-th argument. Undefined when the parameters are exactly the chunk's values in order.
   */
  sources: Int32Array | undefined;
}

/**
 * A statement over a list of rows (a multi-row VALUES, an IN list), built and compiled by kysely
 * once per row count and then executed again and again with new values. Building and compiling a
 * kysely tree of thousands of values costs about as much as SQLite takes to run it, and a SQL text
 * of a new length would also have to be prepared anew.
 *
 * A list is cut into chunks of `chunk` rows and a remainder written as power-of-two chunks, so a
 * few texts (chunk, chunk/2 .. 1 rows) serve every batch size and stay prepared. The SQL stays
 * kysely's, for whichever dialect compiles it; templates are kept per instance, so a store owns
 * its own statements.
 *
 * Rows are passed flat, row after row in `columns` order, so that a batch of thousands of rows
 * costs no object per row.
 */
export class BatchStatement<Row extends object, Args extends object, Result> {
  readonly #chunk: number;
  readonly #columns: readonly (keyof Row & string)[];
  readonly #args: readonly (keyof Args & string)[];
  readonly #build: (db: Kysely<StoreDatabase>, rows: Row[], args: Args) => Compilable<Result>;
  readonly #templates = new Map<number, Template<Result>>();

  constructor(options: {
    /** Rows per statement; a power of two keeps the remainder's texts few. */
    chunk: number;
    /** The order of each row's values; the build must use them as plain values. */
    columns: readonly (keyof Row & string)[];
    /** Values that are the same for every row of one call (e.g. a scan id in a WHERE). */
    args: readonly (keyof Args & string)[];
    build: (db: Kysely<StoreDatabase>, rows: Row[], args: Args) => Compilable<Result>;
  }) {
    this.#chunk = options.chunk;
    this.#columns = options.columns;
    this.#args = options.args;
    this.#build = options.build;
  }

  get columnCount(): number {
    return this.#columns.length;
  }

  /**
   * Runs the statement over every row of `values` (flat, `columnCount` values per row): nothing
   * when there are none. Returns the RETURNING rows, if any.
   */
  async execute(
    db: Kysely<StoreDatabase>,
    values: readonly unknown[],
    args: Args,
  ): Promise<Result[]> {
    const width = this.#columns.length;
    const rows = values.length / width;
    const argValues = this.#args.map((name) => args[name]);
    const results: Result[] = [];
    for (let start = 0; start < rows;) {
      const left = rows - start;
      const size = left >= this.#chunk ? this.#chunk : 2 ** Math.floor(Math.log2(left));
      const template = this.#template(db, size);
      const base = start * width;
      let parameters: unknown[];
      if (template.sources === undefined) {
        parameters = values.slice(base, base + size * width);
      } else {
        const sources = template.sources;
        parameters = new Array<unknown>(sources.length);
        for (let i = 0; i < sources.length; i++) {
          const source = sources[i] as number;
          parameters[i] = source >= 0 ? values[base + source] : argValues[-1 - source];
        }
      }
      const result = await db.executeQuery<Result>({ ...template.compiled, parameters });
      for (const row of result.rows) results.push(row);
      start += size;
    }
    return results;
  }

  #template(db: Kysely<StoreDatabase>, size: number): Template<Result> {
    const cached = this.#templates.get(size);
    if (cached !== undefined) return cached;
    const rows = Array.from(
      { length: size },
      (_, row) =>
        Object.fromEntries(this.#columns.map((name) => [name, new Slot(row, name)])) as Row,
    );
    const args = Object.fromEntries(this.#args.map((name) => [name, new Slot(-1, name)])) as Args;
    const compiled = this.#build(db, rows, args).compile();
    const width = this.#columns.length;
    const sources = Int32Array.from(compiled.parameters, (parameter) => {
      // Only slots: a literal compiled into the template would be bound as the slot's value.
      if (!(parameter instanceof Slot)) {
        throw new Error(`batch statement parameter ${String(parameter)} is not a row value`);
      }
      return parameter.row >= 0
        ? parameter.row * width + this.#columns.indexOf(parameter.name as keyof Row & string)
        : -1 - this.#args.indexOf(parameter.name as keyof Args & string);
    });
    const inOrder = sources.length === size * width && sources.every((source, i) => source === i);
    const template = { compiled, sources: inOrder ? undefined : sources };
    this.#templates.set(size, template);
    return template;
  }
}
