import {
  type Completion,
  type CompletionChunk,
  type Delta,
  FinishReason,
  Role,
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

  constructor(includeUsage: boolean) {
    this.#includeUsage = includeUsage;
  }

  /** The frame as JSON, or undefined when the caller did not ask for it (usage). */
  render(frame: CompletionChunk): string | undefined {
    this.#prefix ??= `{"id":${JSON.stringify(frame.id)},"object":"chat.completion.chunk","created":${frame.created},"model":${JSON.stringify(frame.model)},"choices":[`;
    if (frame.usage && frame.choices.length === 0) {
      return this.#includeUsage
        ? `${this.#prefix}],"usage":${renderUsage(frame.usage)}}`
        : undefined;
    }
    let json = this.#prefix;
    for (let i = 0; i < frame.choices.length; i++) {
      const c = frame.choices[i]!;
      if (i > 0) json += ",";
      json += `{"index":${c.index},"delta":${renderDelta(c.delta)},"logprobs":null,"finish_reason":`;
      json +=
        c.finishReason === FinishReason.UNSPECIFIED
          ? "null}"
          : `"${FINISH_REASONS[c.finishReason]}","native_finish_reason":${JSON.stringify(c.nativeFinishReason)}}`;
    }
    return this.#includeUsage ? `${json}],"usage":null}` : `${json}]}`;
  }
}

function renderDelta(d: Delta | undefined): string {
  if (!d) return "{}";
  const fields: string[] = [];
  if (d.role === Role.ASSISTANT) fields.push(`"role":"assistant","content":""`);
  else if (d.content) fields.push(`"content":${JSON.stringify(d.content)}`);
  if (d.reasoningContent) fields.push(`"reasoning_content":${JSON.stringify(d.reasoningContent)}`);
  return `{${fields.join(",")}}`;
}

function renderUsage(u: Usage): string {
  return JSON.stringify(usageJson(u));
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
    choices: c.choices.map((choice) => ({
      index: choice.index,
      message: {
        role: "assistant",
        content: choice.message?.content ?? "",
        refusal: null,
        ...(choice.message?.reasoningContent && {
          reasoning_content: choice.message.reasoningContent,
        }),
      },
      logprobs: null,
      finish_reason: FINISH_REASONS[choice.finishReason],
      native_finish_reason: choice.nativeFinishReason,
    })),
    ...(c.usage && { usage: usageJson(c.usage) }),
  };
}
