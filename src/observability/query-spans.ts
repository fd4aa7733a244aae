import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult, TransactionSettings } from "kysely";
import { inClientSpan } from "./spans.js";

/**
 * A span per SQL statement for a database no instrumentation knows: PGlite runs in process,
 * so the pg instrumentation (which traces a Postgres server's queries) sees nothing. The spans
 * look like that instrumentation's: the statement text, whose values are always bound
 * parameters (Kysely compiles them to $1, $2…), and never the parameters themselves.
 */
export function tracePGliteQueries(dialect: Dialect): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new TracedDriver(dialect.createDriver()),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}

class TracedConnection implements DatabaseConnection {
  constructor(readonly inner: DatabaseConnection) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const operation = query.sql.trimStart().split(/\s/, 1)[0]!.toUpperCase();
    const attributes = { "db.system.name": "postgresql", "db.operation.name": operation, "db.query.text": query.sql };
    return inClientSpan(`pglite.query:${operation}`, attributes, () => this.inner.executeQuery<R>(query));
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

/**
 * The dialect's driver, its connections wrapped; transactions run through them, so BEGIN and
 * COMMIT are spans too. (No savepoints to pass on: PGlite's driver has none.)
 */
class TracedDriver implements Driver {
  constructor(private readonly inner: Driver) {}

  init = () => this.inner.init();
  acquireConnection = async () => new TracedConnection(await this.inner.acquireConnection());
  beginTransaction = (connection: DatabaseConnection, settings: TransactionSettings) => this.inner.beginTransaction(connection, settings);
  commitTransaction = (connection: DatabaseConnection) => this.inner.commitTransaction(connection);
  rollbackTransaction = (connection: DatabaseConnection) => this.inner.rollbackTransaction(connection);
  // The driver knows its own connection objects (PGlite's checks which one is released).
  releaseConnection = (connection: DatabaseConnection) => this.inner.releaseConnection((connection as TracedConnection).inner);
  destroy = () => this.inner.destroy();
}
