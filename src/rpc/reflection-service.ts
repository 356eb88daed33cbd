import { readFileSync } from "node:fs";
import {
  create,
  createFileRegistry,
  type FileRegistry,
  fromBinary,
  toBinary,
} from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import * as v1 from "../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.js";

/**
 * The descriptor set `buf build` wrote (src/gen/descriptors.binpb): unlike the descriptors
 * embedded in generated code, it keeps comments and imports, so `describe` shows the docs.
 */
function loadDescriptors(): { registry: FileRegistry; files: Map<string, FileDescriptorProto> } {
  const set = fromBinary(
    FileDescriptorSetSchema,
    readFileSync(new URL("../gen/descriptors.binpb", import.meta.url)),
  );
  return { registry: createFileRegistry(set), files: new Map(set.file.map((f) => [f.name, f])) };
}

type Request = v1.ServerReflectionRequest;
type Answer = Omit<v1.ServerReflectionResponse, "$typeName" | "originalRequest" | "$unknown">;

/**
 * gRPC server reflection, v1 and v1alpha (grpcurl and Postman still ask v1alpha first):
 * list_services, file_by_filename, file_containing_symbol (methods and fields too), with each
 * file's dependencies.
 */
export function reflectionService(serviceNames: readonly string[]) {
  // Read on the first reflection call, not at start-up (it is ~20 ms of a cold start).
  let loaded: ReturnType<typeof loadDescriptors> | undefined;
  const descriptors = () => {
    loaded ??= loadDescriptors();
    return loaded;
  };

  /** The file and, transitively, what it imports, each once, the file first. */
  const withDependencies = (name: string): Uint8Array[] => {
    const seen = new Set<string>();
    const out: Uint8Array[] = [];
    const { files } = descriptors();
    const visit = (n: string) => {
      const file = files.get(n);
      if (!file || seen.has(n)) return;
      seen.add(n);
      out.push(toBinary(FileDescriptorProtoSchema, file));
      for (const dep of file.dependency) visit(dep);
    };
    visit(name);
    return out;
  };

  const fileOfSymbol = (symbol: string): string | undefined => {
    const { registry } = descriptors();
    const name = symbol.replace(/^\./, "");
    const direct = registry.get(name);
    if (direct) return direct.file.proto.name;
    // A method or a field: its service or message declares it.
    const parent = registry.get(name.slice(0, name.lastIndexOf(".")));
    return parent?.file.proto.name;
  };

  const notFound = (message: string): Answer["messageResponse"] => ({
    case: "errorResponse",
    value: create(v1.ErrorResponseSchema, { errorCode: Code.NotFound, errorMessage: message }),
  });

  const answer = (request: Request): Answer => {
    const r = request.messageRequest;
    let messageResponse: Answer["messageResponse"];
    switch (r.case) {
      case "listServices":
        messageResponse = {
          case: "listServicesResponse",
          value: create(v1.ListServiceResponseSchema, {
            service: serviceNames.map((name) => ({ name })),
          }),
        };
        break;
      case "fileByFilename":
      case "fileContainingSymbol": {
        const file =
          r.case === "fileByFilename"
            ? descriptors().files.has(r.value)
              ? r.value
              : undefined
            : fileOfSymbol(r.value);
        messageResponse = file
          ? {
              case: "fileDescriptorResponse",
              value: create(v1.FileDescriptorResponseSchema, {
                fileDescriptorProto: withDependencies(file),
              }),
            }
          : notFound(`${r.case === "fileByFilename" ? "file" : "symbol"} '${r.value}' not found`);
        break;
      }
      case "allExtensionNumbersOfType":
        messageResponse = descriptors().registry.getMessage(r.value)
          ? {
              case: "allExtensionNumbersResponse",
              value: create(v1.ExtensionNumberResponseSchema, { baseTypeName: r.value }),
            }
          : notFound(`type '${r.value}' not found`);
        break;
      case "fileContainingExtension":
        messageResponse = notFound("no extensions are declared");
        break;
      default:
        messageResponse = {
          case: "errorResponse",
          value: create(v1.ErrorResponseSchema, {
            errorCode: Code.InvalidArgument,
            errorMessage: "empty request",
          }),
        };
    }
    return { validHost: request.host, messageResponse };
  };

  return (router: ConnectRouter) => {
    router.service(v1.ServerReflection, {
      async *serverReflectionInfo(requests) {
        for await (const request of requests) {
          yield create(v1.ServerReflectionResponseSchema, {
            ...answer(request),
            originalRequest: request,
          });
        }
      },
    });
    router.service(v1alpha.ServerReflection, {
      async *serverReflectionInfo(requests) {
        for await (const request of requests) {
          // The two versions are the same messages under another package: answer in v1, then
          // carry the bytes over.
          const asV1 = fromBinary(
            v1.ServerReflectionRequestSchema,
            toBinary(v1alpha.ServerReflectionRequestSchema, request),
          );
          const response = create(v1.ServerReflectionResponseSchema, {
            ...answer(asV1),
            originalRequest: asV1,
          });
          yield fromBinary(
            v1alpha.ServerReflectionResponseSchema,
            toBinary(v1.ServerReflectionResponseSchema, response),
          );
        }
      },
    });
  };
}
