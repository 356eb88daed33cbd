import { encodeToolCallId } from "../core/tool-call-id.ts";
import {
  type Completion,
  type CompletionChunk,
  type Delta,
  FinishReason,
  type Image,
  type Logprobs,
  Role,
  type ToolCall,
  type Usage,
} from "../gen/geminate/v1/chat_pb.js";

/** Our finish reasons in OpenAI's words. */
const FINISH_REASONS = {
  [FinishReason.UNSPECIFIED]: "stop",
  [FinishReason.STOP]: "stop",
  [FinishReason.LENGTH]: "length",
  [FinishReason.TOOL_CALLS]: "tool_calls",
  [FinishReason.CONTENT_FILTER]: "content_filter",
} as const satisfies Record<FinishReason, string>;

/**
 * Renders one answer's frames as chat.completion.chunk JSON. Created per stream: the part every
 * frame shares is serialized once, each frame adds only its choices.
 */
export class ChunkRenderer {
  #prefix: string | undefined;
  readonly #includeUsage: boolean;
  /** Images sent so far per choice: each image's index in its message (made on first use). */
  #images: Map<number, number> | undefined;

  constructor(includeUsage: boolean) {
    this.#includeUsage = includeUsage;
  }

  /** The frame as JSON, or undefined when the caller did not ask for it (usage). */
  render(frame: CompletionChunk): string | undefined {
    this.#prefix ??= `{"id":${JSON.stringify(frame.id)},"object":"chat.completion.chunk","created":${frame.created},"model":${JSON.stringify(frame.model)},"choices":[`;
    if (frame.usage && frame.choices.length === 0) {
      return this.#includeUsage
        ? `${this.#prefix}],"usage":${JSON.stringify(usageJson(frame.usage))}}`
        : undefined;
    }
    let json = this.#prefix;
    for (let i = 0; i < frame.choices.length; i++) {
      const c = frame.choices[i]!;
      if (i > 0) json += ",";
      json += `{"index":${c.index},"delta":${this.#delta(c.index, c.delta)},"logprobs":${c.logprobs ? JSON.stringify(logprobsJson(c.logprobs)) : "null"},"finish_reason":`;
      json +=
        c.finishReason === FinishReason.UNSPECIFIED
          ? "null}"
          : `"${FINISH_REASONS[c.finishReason]}","native_finish_reason":${JSON.stringify(c.nativeFinishReason)}}`;
    }
    return this.#includeUsage ? `${json}],"usage":null}` : `${json}]}`;
  }

  #delta(index: number, d: Delta | undefined): string {
    if (!d) return "{}";
    let json = "";
    if (d.role === Role.ASSISTANT) json += `,"role":"assistant","content":""`;
    else if (d.content) json += `,"content":${JSON.stringify(d.content)}`;
    if (d.reasoningContent) json += `,"reasoning_content":${JSON.stringify(d.reasoningContent)}`;
    if (d.toolCalls.length)
      json += `,"tool_calls":${JSON.stringify(d.toolCalls.map(toolCallJson))}`;
    if (d.images.length) {
      this.#images ??= new Map();
      const first = this.#images.get(index) ?? 0;
      this.#images.set(index, first + d.images.length);
      json += `,"images":${JSON.stringify(d.images.map((img, k) => imageJson(img, first + k)))}`;
    }
    if (d.thoughtSignature)
      json += `,"extra_content":${JSON.stringify(signatureJson(d.thoughtSignature))}`;
    return `{${json.slice(1)}}`;
  }
}

/** Google's OpenAI-compatible spelling of a thought signature, which its clients echo back. */
function signatureJson(signature: string) {
  return { google: { thought_signature: signature } };
}

function toolCallJson(call: ToolCall) {
  return {
    index: call.index,
    id: encodeToolCallId(call.id, call.thoughtSignature),
    type: "function",
    function: { name: call.name, arguments: call.arguments },
    ...(call.thoughtSignature && { extra_content: signatureJson(call.thoughtSignature) }),
  };
}

function imageJson(image: Image, index: number) {
  const url = `data:${image.mimeType};base64,${Buffer.from(image.data).toString("base64")}`;
  return { type: "image_url", image_url: { url }, index };
}

function logprobsJson(l: Logprobs) {
  return {
    content: l.content.map((t) => ({
      token: t.token,
      logprob: t.logprob,
      bytes: [...Buffer.from(t.token, "utf8")],
      top_logprobs: t.topLogprobs.map((a) => ({
        token: a.token,
        logprob: a.logprob,
        bytes: [...Buffer.from(a.token, "utf8")],
      })),
    })),
    refusal: null,
  };
}

function usageJson(u: Usage) {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.totalTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens },
  };
}

/** A whole answer as a chat.completion object. */
export function renderCompletion(c: Completion) {
  return {
    id: c.id,
    object: "chat.completion",
    created: Number(c.created),
    model: c.model,
    choices: c.choices.map((choice) => {
      const m = choice.message!;
      // Non-stream tool calls carry no index.
      const calls = m.toolCalls.map(toolCallJson).map(({ index: _, ...call }) => call);
      return {
        index: choice.index,
        message: {
          role: "assistant",
          // OpenAI sends null content beside tool calls when there is no text.
          content: m.content === "" && calls.length > 0 ? null : m.content,
          refusal: null,
          ...(m.reasoningContent && { reasoning_content: m.reasoningContent }),
          ...(calls.length > 0 && { tool_calls: calls }),
          ...(m.images.length > 0 && { images: m.images.map(imageJson) }),
          ...(m.thoughtSignature && { extra_content: signatureJson(m.thoughtSignature) }),
        },
        logprobs: choice.logprobs ? logprobsJson(choice.logprobs) : null,
        finish_reason: FINISH_REASONS[choice.finishReason],
        native_finish_reason: choice.nativeFinishReason,
      };
    }),
    ...(c.usage && { usage: usageJson(c.usage) }),
  };
}
