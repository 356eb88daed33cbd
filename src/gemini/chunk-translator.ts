import { Code } from "@connectrpc/connect";
import { choice, chunk, delta, type FrameHeader } from "../core/frames.ts";
import { GatewayError } from "../core/gateway-error.ts";
import { GENERATED_PREFIX } from "../core/tool-call-id.ts";
import {
  type CompletionChunk,
  FinishReason,
  type Image,
  type Logprobs,
  Role,
  type ToolCall,
} from "../gen/geminate/v1/chat_pb.js";
import { convertUsage } from "./convert-usage.ts";
import { mapFinishReason } from "./map-finish-reason.ts";
import { statusError } from "./map-status.ts";
import type { GeminiCandidate, GeminiUsage, GenerateContentResponse } from "./wire.ts";

/** Where frames go: the answer's subscriber. */
export interface FrameSink {
  next(frame: CompletionChunk): void;
}

export interface ChunkContext {
  /** The model id as the caller named it; echoed on every frame. */
  readonly model: string;
  /** Unix seconds the call started. */
  readonly created: bigint;
  /** A fresh id, used when the upstream sends no responseId or no function call id. */
  readonly newId: () => string;
}

/**
 * Translates one answer's Gemini events into delta frames. Created per request; the fields are
 * the stream state, each there for a reason.
 */
export class ChunkTranslator {
  readonly #context: ChunkContext;
  /** Id, model and created of every frame; fixed by the first event. */
  #header: FrameHeader | undefined;
  /** Choices that have had their role frame (OpenAI sends the role once, first). */
  readonly #started = new Set<number>();
  /**
   * Each choice's finish reason, sent at the end of the stream: legacy models repeat
   * finishReason on every chunk, and a mid-stream error after it must still fail the answer.
   */
  readonly #finish = new Map<number, string>();
  /**
   * Tool calls per choice so far: the next call's stable index. This map and the next are made
   * on first use: most answers have no tool calls, and a stream holds its translator for life.
   */
  #calls: Map<number, number> | undefined;
  /**
   * A call whose arguments Vertex is still streaming (functionCall.willContinue), per choice;
   * sent whole once its last piece arrives.
   */
  #streamed:
    | Map<number, { id: string; name: string; signature: string; args: Record<string, unknown> }>
    | undefined;
  /** The prompt was blocked (promptFeedback.blockReason without candidates). */
  #blocked = false;
  /** Latest usageMetadata: Gemini repeats it cumulatively, the last one holds the totals. */
  #usage: GeminiUsage | undefined;

  constructor(context: ChunkContext) {
    this.#context = context;
  }

  push(event: GenerateContentResponse, out: FrameSink): void {
    if (event.error) throw statusError(event.error);
    this.#header ??= {
      id: `chatcmpl-${event.responseId ?? this.#context.newId()}`,
      model: this.#context.model,
      created: this.#context.created,
    };
    const header = this.#header;
    if (event.usageMetadata) this.#usage = event.usageMetadata;

    const blockReason = event.promptFeedback?.blockReason;
    if (blockReason && !event.candidates?.length) {
      // A blocked prompt: no candidates at all. A content_filter choice, never an empty 200.
      this.#blocked = true;
      this.#start(header, 0, out);
      this.#finish.set(0, blockReason);
      return;
    }
    for (const candidate of event.candidates ?? []) this.#candidate(header, candidate, out);
  }

  /** The upstream ended: an answer that never finished is a failure, never a clean stop. */
  end(out: FrameSink): void {
    const header = this.#header;
    if (!header || this.#finish.size === 0 || this.#finish.size < this.#started.size) {
      throw new GatewayError("Gemini ended the answer without a finish reason", Code.Unavailable);
    }
    for (const [index, native] of this.#finish) {
      let reason = this.#blocked ? FinishReason.CONTENT_FILTER : mapFinishReason(native);
      // Gemini ends a function-call turn with STOP; OpenAI clients loop on "tool_calls".
      if (reason === FinishReason.STOP && this.#calls?.has(index)) reason = FinishReason.TOOL_CALLS;
      out.next(chunk(header, [choice(index, delta(), reason, native)]));
    }
    // Always a usage frame, so include_usage callers get one; zeros when Gemini sent none.
    out.next(chunk(header, [], convertUsage(this.#usage ?? {})));
  }

  #candidate(header: FrameHeader, candidate: GeminiCandidate, out: FrameSink): void {
    const index = candidate.index ?? 0;
    this.#start(header, index, out);
    let content = "";
    let reasoning = "";
    let signature = "";
    const toolCalls: ToolCall[] = [];
    const images: Image[] = [];
    for (const part of candidate.content?.parts ?? []) {
      if (part.functionCall) {
        const call = part.functionCall;
        const open = this.#streamed?.get(index);
        if (call.name && call.willContinue) {
          // The start of a call whose arguments follow in pieces.
          this.#streamed ??= new Map();
          this.#streamed.set(index, {
            id: call.id ?? "",
            name: call.name,
            signature: part.thoughtSignature ?? "",
            args: {},
          });
        } else if (open && !call.name) {
          for (const piece of call.partialArgs ?? []) setPath(open.args, piece);
          if (!call.willContinue) {
            this.#streamed?.delete(index);
            toolCalls.push(this.#toolCall(index, open.id, open.name, open.args, open.signature));
          }
        } else if (call.name) {
          toolCalls.push(
            this.#toolCall(
              index,
              call.id ?? "",
              call.name,
              call.args ?? {},
              part.thoughtSignature ?? "",
            ),
          );
        }
        continue;
      }
      if (part.thoughtSignature) signature = part.thoughtSignature;
      if (part.inlineData?.mimeType.startsWith("image/")) {
        const { mimeType, data } = part.inlineData;
        images.push({
          $typeName: "geminate.v1.Image",
          mimeType,
          data: Buffer.from(data, "base64"),
        });
        // Clients that read only content still see the picture.
        content += `![image](data:${mimeType};base64,${data})`;
      } else if (part.executableCode) {
        content += `\n\`\`\`${(part.executableCode.language ?? "").toLowerCase()}\n${part.executableCode.code}\n\`\`\`\n`;
      } else if (part.codeExecutionResult) {
        content += `\n\`\`\`output\n${part.codeExecutionResult.output ?? ""}\n\`\`\`\n`;
      } else if (part.text !== undefined) {
        if (part.thought) reasoning += part.text;
        else content += part.text;
      }
    }
    const logprobs = convertLogprobs(candidate.logprobsResult);
    if (content || reasoning || signature || toolCalls.length || images.length || logprobs) {
      const d = delta({
        content,
        reasoningContent: reasoning,
        toolCalls,
        images,
        thoughtSignature: signature,
      });
      out.next(chunk(header, [choice(index, d, FinishReason.UNSPECIFIED, "", logprobs)]));
    }
    if (candidate.finishReason) this.#finish.set(index, candidate.finishReason);
  }

  #toolCall(index: number, id: string, name: string, args: unknown, signature: string): ToolCall {
    this.#calls ??= new Map();
    const next = this.#calls.get(index) ?? 0;
    this.#calls.set(index, next + 1);
    return {
      $typeName: "geminate.v1.ToolCall",
      id: id || `${GENERATED_PREFIX}${this.#context.newId()}`,
      name,
      arguments: JSON.stringify(args),
      index: next,
      thoughtSignature: signature,
    };
  }

  #start(header: FrameHeader, index: number, out: FrameSink): void {
    if (this.#started.has(index)) return;
    this.#started.add(index);
    out.next(chunk(header, [choice(index, delta({ role: Role.ASSISTANT }))]));
  }
}

/** Applies one streamed argument piece ("$.a.b" = value); string pieces of one path concatenate. */
function setPath(
  args: Record<string, unknown>,
  piece: {
    jsonPath: string;
    stringValue?: string | undefined;
    numberValue?: number | undefined;
    boolValue?: boolean | undefined;
    nullValue?: unknown;
  },
): void {
  const keys = piece.jsonPath
    .replace(/^\$\.?/, "")
    .split(".")
    .filter(Boolean);
  if (keys.length === 0) return;
  let node = args;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  const last = keys.at(-1)!;
  if (piece.stringValue !== undefined) {
    const before = node[last];
    node[last] = (typeof before === "string" ? before : "") + piece.stringValue;
  } else if (piece.numberValue !== undefined) node[last] = piece.numberValue;
  else if (piece.boolValue !== undefined) node[last] = piece.boolValue;
  else if ("nullValue" in piece) node[last] = null;
}

function convertLogprobs(result: GeminiCandidate["logprobsResult"]): Logprobs | undefined {
  const chosen = result?.chosenCandidates;
  if (!chosen?.length) return undefined;
  return {
    $typeName: "geminate.v1.Logprobs",
    content: chosen.map((c, i) => ({
      $typeName: "geminate.v1.TokenLogprob",
      token: c.token ?? "",
      logprob: c.logProbability ?? 0,
      topLogprobs: (result?.topCandidates?.[i]?.candidates ?? []).map((t) => ({
        $typeName: "geminate.v1.TopLogprob",
        token: t.token ?? "",
        logprob: t.logProbability ?? 0,
      })),
    })),
  };
}
