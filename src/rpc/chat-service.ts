import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import type { Chat } from "../core/chat.ts";
import { ChatService, ListModelsResponseSchema } from "../gen/geminate/v1/chat_pb.js";

/** geminate.v1.ChatService on the one core: `ctx.signal` (deadline, cancel, shutdown) aborts upstream. */
export function chatService(chat: Chat) {
  return (router: ConnectRouter) =>
    router.service(ChatService, {
      complete(request, ctx) {
        return chat.complete(request, ctx.signal);
      },
      async *streamComplete(request, ctx) {
        yield* chat.stream(request, ctx.signal);
      },
      listModels() {
        return create(ListModelsResponseSchema, {
          models: chat.catalogue.ids().map((id) => ({
            id,
            upstream: chat.catalogue.resolve(id)?.upstream ?? id,
            ownedBy: "google",
          })),
        });
      },
    });
}
