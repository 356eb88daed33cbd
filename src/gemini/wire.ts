import { z } from "zod";

// Gemini's REST wire format (reference/gemini-wire.md). Response schemas are lenient: only the
// fields geminate reads, all optional, unknown keys dropped, so a new upstream field never
// breaks a stream. Request types are what geminate sends.

export interface Part {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
}

export interface Content {
  role?: "user" | "model";
  parts: Part[];
}

export interface GenerationConfig {
  temperature?: number;
  topP?: number;
  topK?: number;
  maxOutputTokens?: number;
  stopSequences?: string[];
  thinkingConfig?: { includeThoughts?: boolean; thinkingBudget?: number; thinkingLevel?: string };
}

export interface GenerateContentRequest {
  contents: Content[];
  systemInstruction?: Content;
  generationConfig?: GenerationConfig;
}

const partSchema = z.object({
  text: z.string().optional(),
  thought: z.boolean().optional(),
  thoughtSignature: z.string().optional(),
});

const candidateSchema = z.object({
  content: z.object({ parts: z.array(partSchema).optional() }).optional(),
  finishReason: z.string().optional(),
  finishMessage: z.string().optional(),
  index: z.number().int().nonnegative().optional(),
});

const count = z.number().int().nonnegative().optional();
const usageSchema = z.object({
  promptTokenCount: count,
  candidatesTokenCount: count,
  totalTokenCount: count,
  thoughtsTokenCount: count,
  cachedContentTokenCount: count,
  toolUsePromptTokenCount: count,
});

export const statusSchema = z.object({
  code: z.number().optional(),
  message: z.string().optional(),
  status: z.string().optional(),
  details: z.array(z.looseObject({ "@type": z.string().optional() })).optional(),
});

export const generateContentResponseSchema = z.object({
  candidates: z.array(candidateSchema).optional(),
  promptFeedback: z
    .object({ blockReason: z.string().optional(), blockReasonMessage: z.string().optional() })
    .optional(),
  usageMetadata: usageSchema.optional(),
  modelVersion: z.string().optional(),
  responseId: z.string().optional(),
  // An error object inside a 200 stream: the upstream failed mid-answer.
  error: statusSchema.optional(),
});

export type GenerateContentResponse = z.infer<typeof generateContentResponseSchema>;
export type GeminiUsage = z.infer<typeof usageSchema>;
export type GeminiStatus = z.infer<typeof statusSchema>;
