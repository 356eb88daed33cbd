import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import type { Chat } from "../core/chat.ts";
import { tap } from "../core/tap.ts";
import { ChatService, ListModelsResponseSchema, type Usage } from "../gen/geminate/v1/chat_pb.js";
import { callRecordKey } from "../server/call-record.ts";

/** Usage also travels in trailers, for proxies and callers that only look at metadata. */
function setUsageTrailers(trailer: Headers, usage: Usage | undefined): void {
  if (!usage) return;
  trailer.set("geminate-usage-prompt-tokens", String(usage.promptTokens));
  trailer.set("geminate-usage-completion-tokens", String(usage.completionTokens));
  trailer.set("geminate-usage-total-tokens", String(usage.totalTokens));
  trailer.set("geminate-usage-reasoning-tokens", String(usage.reasoningTokens));
}

/** geminate.v1.ChatService on the one core: `ctx.signal` (deadline, cancel, shutdown) aborts upstream. */
export function chatService(chat: Chat) {
  return (router: ConnectRouter) =>
    router.service(ChatService, {
      async complete(request, ctx) {
        const record = ctx.values.get(callRecordKey);
        if (record) record.model = request.model;
        const completion = await chat.complete(request, ctx.signal, {
          timeoutMs: ctx.timeoutMs(),
          headers: record?.upstreamHeaders,
        });
        setUsageTrailers(ctx.responseTrailer, completion.usage);
        return completion;
      },
      streamComplete(request, ctx) {
        const record = ctx.values.get(callRecordKey);
        if (record) record.model = request.model;
        const options = { timeoutMs: ctx.timeoutMs(), headers: record?.upstreamHeaders };
        return tap(chat.stream(request, ctx.signal, options), (frame) =>
          setUsageTrailers(ctx.responseTrailer, frame.usage),
        );
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
