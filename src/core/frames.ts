import {
  type ChunkChoice,
  type CompletionChunk,
  type Delta,
  FinishReason,
  type Logprobs,
  Role,
  type Usage,
} from "../gen/geminate/v1/chat_pb.js";

// Frame constructors for the hot path: plain protobuf-es message literals (what `create()`
// returns, without its reflection cost), typed so a new proto field fails the build here.

/** What stays the same on every frame of one answer. */
export interface FrameHeader {
  readonly id: string;
  readonly model: string;
  readonly created: bigint;
}

export function delta(fields: Partial<Omit<Delta, "$typeName">> = {}): Delta {
  return {
    $typeName: "geminate.v1.Delta",
    content: "",
    role: Role.UNSPECIFIED,
    reasoningContent: "",
    toolCalls: [],
    images: [],
    thoughtSignature: "",
    ...fields,
  };
}

export function choice(
  index: number,
  d: Delta,
  finishReason = FinishReason.UNSPECIFIED,
  nativeFinishReason = "",
  logprobs?: Logprobs,
): ChunkChoice {
  return {
    $typeName: "geminate.v1.ChunkChoice",
    index,
    delta: d,
    finishReason,
    nativeFinishReason,
    logprobs,
  };
}

export function chunk(header: FrameHeader, choices: ChunkChoice[], usage?: Usage): CompletionChunk {
  return {
    $typeName: "geminate.v1.CompletionChunk",
    id: header.id,
    model: header.model,
    created: header.created,
    choices,
    usage,
  };
}

export function usage(
  promptTokens: number,
  completionTokens: number,
  totalTokens: number,
  reasoningTokens: number,
  cachedTokens: number,
): Usage {
  return {
    $typeName: "geminate.v1.Usage",
    promptTokens,
    completionTokens,
    totalTokens,
    reasoningTokens,
    cachedTokens,
  };
}

/** Whether a frame carries answer tokens (text or a tool call): its arrival is the first token. */
export function carriesToken(frame: CompletionChunk): boolean {
  return frame.choices.some((c) => c.delta?.content || c.delta?.toolCalls.length);
}
