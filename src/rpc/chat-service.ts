import { create } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import type { Chat } from "../core/chat.ts";
import { ChatService, ListModelsResponseSchema } from "../gen/geminate/v1/chat_pb.js";
import { callRecordKey } from "../server/call-record.ts";

/** The call record learns the model; the upstream call gets the deadline and trace context. */
function upstreamOptions(model: string, ctx: HandlerContext) {
  const record = ctx.values.get(callRecordKey);
  if (record) record.model = model;
  return { timeoutMs: ctx.timeoutMs(), headers: record?.upstreamHeaders };
}

/** geminate.v1.ChatService on the one core: `ctx.signal` (deadline, cancel, shutdown) aborts upstream. */
export function chatService(chat: Chat) {
  return (router: ConnectRouter) =>
    router.service(ChatService, {
      complete(request, ctx) {
        return chat.complete(request, ctx.signal, upstreamOptions(request.model, ctx));
      },
      streamComplete(request, ctx) {
        return chat.stream(request, ctx.signal, upstreamOptions(request.model, ctx));
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
