import {
  type Choice,
  type Completion,
  type CompletionChunk,
  FinishReason,
  Role,
} from "../gen/geminate/v1/chat_pb.js";
import { delta } from "./frames.ts";

/**
 * Merges delta frames into one Completion: unary calls and `stream: false` are the same frames
 * as a stream, aggregated here, so there is no second code path.
 */
export class CompletionBuilder {
  /** From the first frame: every frame of one answer carries the same three. */
  #id = "";
  #model = "";
  #created = 0n;
  /** Choices by index, each delta appended in order. */
  readonly #choices = new Map<number, Choice>();
  /** From the usage frame at the end. */
  #usage: Completion["usage"];

  add(frame: CompletionChunk): void {
    if (!this.#id) {
      this.#id = frame.id;
      this.#model = frame.model;
      this.#created = frame.created;
    }
    if (frame.usage) this.#usage = frame.usage;
    for (const c of frame.choices) {
      let merged = this.#choices.get(c.index);
      if (!merged) {
        merged = {
          $typeName: "geminate.v1.Choice",
          index: c.index,
          message: delta({ role: Role.ASSISTANT }),
          finishReason: FinishReason.UNSPECIFIED,
          nativeFinishReason: "",
          logprobs: undefined,
        };
        this.#choices.set(c.index, merged);
      }
      const message = merged.message!;
      if (c.delta) {
        message.content += c.delta.content;
        message.reasoningContent += c.delta.reasoningContent;
        message.toolCalls.push(...c.delta.toolCalls);
        message.images.push(...c.delta.images);
        if (c.delta.thoughtSignature) message.thoughtSignature = c.delta.thoughtSignature;
      }
      if (c.logprobs) {
        merged.logprobs ??= { $typeName: "geminate.v1.Logprobs", content: [] };
        merged.logprobs.content.push(...c.logprobs.content);
      }
      if (c.finishReason !== FinishReason.UNSPECIFIED) {
        merged.finishReason = c.finishReason;
        merged.nativeFinishReason = c.nativeFinishReason;
      }
    }
  }

  build(): Completion {
    return {
      $typeName: "geminate.v1.Completion",
      id: this.#id,
      model: this.#model,
      created: this.#created,
      choices: [...this.#choices.values()].sort((a, b) => a.index - b.index),
      usage: this.#usage,
    };
  }
}
