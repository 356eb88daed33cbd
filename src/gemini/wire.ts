import * as z from "zod";

// Gemini's REST wire format (reference/gemini-wire.md). Response schemas are lenient: only the
// fields geminate reads, all optional, unknown keys dropped, so a new upstream field never
// breaks a stream. Request types are what geminate sends.

export interface Part {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { fileUri: string; mimeType?: string };
  functionCall?: { id?: string; name: string; args: unknown };
  functionResponse?: { id?: string; name: string; response: unknown };
  mediaResolution?: { level: string };
}

export interface Content {
  role?: "user" | "model";
  parts: Part[];
}

export interface ThinkingConfig {
  includeThoughts?: boolean;
  thinkingBudget?: number;
  thinkingLevel?: string;
}

export interface GenerationConfig {
  temperature?: number;
  topP?: number;
  topK?: number;
  candidateCount?: number;
  maxOutputTokens?: number;
  stopSequences?: string[];
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  responseLogprobs?: boolean;
  logprobs?: number;
  responseMimeType?: string;
  responseSchema?: unknown;
  responseJsonSchema?: unknown;
  responseModalities?: string[];
  thinkingConfig?: ThinkingConfig;
}

export interface FunctionDeclaration {
  name: string;
  description?: string;
  parameters?: unknown;
  parametersJsonSchema?: unknown;
}

export interface GenerateContentRequest {
  contents: Content[];
  systemInstruction?: Content;
  generationConfig?: GenerationConfig;
  tools?: { functionDeclarations: FunctionDeclaration[] }[];
  toolConfig?: {
    functionCallingConfig: { mode: "AUTO" | "ANY" | "NONE"; allowedFunctionNames?: string[] };
  };
  safetySettings?: { category: string; threshold: string }[];
  cachedContent?: string;
}

const partSchema = z.object({
  text: z.string().optional(),
  thought: z.boolean().optional(),
  thoughtSignature: z.string().optional(),
  inlineData: z.object({ mimeType: z.string(), data: z.string() }).optional(),
  functionCall: z
    .object({
      id: z.string().optional(),
      // Absent on Vertex's streamed-argument continuation chunks.
      name: z.string().optional(),
      args: z.unknown().optional(),
      // Vertex streams a call's arguments: pieces by JSON path, until willContinue is false.
      partialArgs: z
        .array(
          z.object({
            jsonPath: z.string(),
            stringValue: z.string().optional(),
            numberValue: z.number().optional(),
            boolValue: z.boolean().optional(),
            nullValue: z.unknown().optional(),
            willContinue: z.boolean().optional(),
          }),
        )
        .optional(),
      willContinue: z.boolean().optional(),
    })
    .optional(),
  executableCode: z.object({ language: z.string().optional(), code: z.string() }).optional(),
  codeExecutionResult: z
    .object({ outcome: z.string().optional(), output: z.string().optional() })
    .optional(),
});

const logprobCandidate = z.object({
  token: z.string().optional(),
  logProbability: z.number().optional(),
});

const candidateSchema = z.object({
  content: z.object({ parts: z.array(partSchema).optional() }).optional(),
  finishReason: z.string().optional(),
  finishMessage: z.string().optional(),
  index: z.number().int().nonnegative().optional(),
  logprobsResult: z
    .object({
      topCandidates: z
        .array(z.object({ candidates: z.array(logprobCandidate).optional() }))
        .optional(),
      chosenCandidates: z.array(logprobCandidate).optional(),
    })
    .optional(),
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
export type GeminiCandidate = z.infer<typeof candidateSchema>;
export type GeminiPart = z.infer<typeof partSchema>;

export const modelsPageSchema = z.object({
  models: z
    .array(
      z.object({ name: z.string(), supportedGenerationMethods: z.array(z.string()).optional() }),
    )
    .optional(),
  nextPageToken: z.string().optional(),
});
