import { Injectable } from '@nestjs/common';

/** The part of a Gemini `generateContent` response the demo uses. */
export interface SimulatedResponse {
  text: string;
  usageMetadata: {
    promptTokenCount: number;
    cachedContentTokenCount?: number;
    candidatesTokenCount: number;
    thoughtsTokenCount?: number;
  };
}

export interface SimulatedRequest {
  model: string;
  /** Tokens of the prompt, of which `cachedTokens` come from a context cache. */
  promptTokens: number;
  cachedTokens?: number;
  outputTokens: number;
  thoughtsTokens?: number;
  /** Fail the way a provider does, with a key in the message, to show it is never stored. */
  fail?: boolean;
}

/**
 * A stand-in for the Gemini client: answers at once with the usage it is told to report, so the
 * demo's costs are known in advance and no key or network is needed.
 */
@Injectable()
export class SimulatedLlm {
  async generate(request: SimulatedRequest): Promise<SimulatedResponse> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (request.fail) {
      throw new Error(
        `503 UNAVAILABLE: ${request.model} is overloaded (request to ` +
          `https://generativelanguage.googleapis.com/v1beta/models/${request.model}:generateContent?key=AIzaSyDemoKey0000000000000000000000000)`,
      );
    }
    return {
      text: `${request.model}: done`,
      usageMetadata: {
        promptTokenCount: request.promptTokens,
        cachedContentTokenCount: request.cachedTokens,
        candidatesTokenCount: request.outputTokens,
        thoughtsTokenCount: request.thoughtsTokens,
      },
    };
  }
}
