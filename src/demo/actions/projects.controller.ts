import { randomUUID } from 'node:crypto';
import {
  Body,
  Controller,
  Get,
  NotFoundException,
  Param,
  ParseUUIDPipe,
  Post,
  Req,
  UseGuards,
} from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import {
  Audit,
  type AuditDecoratorOptions,
  LlmUsageService,
  usageFromGemini,
} from '../../logging/index.js';
import { DemoAuthGuard, type DemoUser } from '../auth.guard.js';
import { CmaProject } from '../entities/index.js';
import { SimulatedLlm, type SimulatedRequest } from '../simulated-llm.js';
import {
  CreateProjectDto,
  CreateProjectMetadata,
  DownloadCmaMetadata,
  ResolveReviewDto,
  ResolveReviewMetadata,
  RunExtractionMetadata,
  UploadFileDto,
  UploadFileMetadata,
} from './dto.js';

type AuthenticatedRequest = { user: DemoUser };

/**
 * An `@Audit` metadata picker that reads what the handler returned when it succeeded. A failed
 * call's row keeps the keys the module adds (`outcome`, `errorClass`, `status`), and the picker is
 * not asked to read a result there is none of.
 */
function ofSuccess<T>(
  pick: (
    result: T,
    params: Record<string, string | undefined>,
  ) => Record<string, unknown>,
): NonNullable<AuditDecoratorOptions['metadata']> {
  return ({ outcome, result, params }) =>
    outcome === 'success' ? pick(result as T, params) : undefined;
}

/** The LLM calls of one extraction: one per seed model, and a fallback that fails. */
const EXTRACTION_CALLS: (SimulatedRequest & {
  taskType: 'classification' | 'extraction' | 'validation' | 'fallback';
})[] = [
  // classify the uploaded pages
  {
    model: 'gemini-2.0-flash',
    taskType: 'classification',
    promptTokens: 12_000,
    outputTokens: 400,
  },
  // extract the figures, half the prompt from the context cache
  {
    model: 'gemini-3-flash',
    taskType: 'extraction',
    promptTokens: 48_000,
    cachedTokens: 24_000,
    outputTokens: 6_000,
    thoughtsTokens: 1_500,
  },
  // validate against the whole file: above 200k tokens, the higher tier
  {
    model: 'gemini-3.1-pro',
    taskType: 'validation',
    promptTokens: 240_000,
    cachedTokens: 200_000,
    outputTokens: 2_000,
    thoughtsTokens: 3_000,
  },
  // a fallback that fails: recorded with success = false and a scrubbed message
  {
    model: 'gemini-3-flash',
    taskType: 'fallback',
    promptTokens: 8_000,
    outputTokens: 0,
    fail: true,
  },
];

/**
 * The seed's five actions, each audited: `create_project`, `upload_file`, `run_extraction` (with
 * its LLM calls tracked), `resolve_review`, `download_cma`. Projects are the firm's own: another
 * firm's project id answers 404.
 */
@Controller('projects')
@UseGuards(DemoAuthGuard)
export class ProjectsController {
  constructor(
    @InjectRepository(CmaProject)
    private readonly projects: Repository<CmaProject>,
    private readonly usage: LlmUsageService,
    private readonly llm: SimulatedLlm,
  ) {}

  @Post()
  @Audit('create_project', 'cma_project', {
    metadata: ofSuccess<{ name: string }>((project) => ({
      nameLength: project.name.length,
    })),
    metadataClass: CreateProjectMetadata,
  })
  async create(
    @Req() request: AuthenticatedRequest,
    @Body() dto: CreateProjectDto,
  ) {
    const project = await this.projects.save({
      firmId: request.user.firmId,
      name: dto.name,
    });
    return { id: project.id, name: project.name };
  }

  @Post(':projectId/files')
  @Audit('upload_file', 'uploaded_file', {
    metadata: ofSuccess<{ projectId: string; pages: number }>((file) => ({
      projectId: file.projectId,
      pages: file.pages,
    })),
    metadataClass: UploadFileMetadata,
  })
  async upload(
    @Req() request: AuthenticatedRequest,
    @Param('projectId', ParseUUIDPipe) projectId: string,
    @Body() dto: UploadFileDto,
  ) {
    await this.ownProject(request, projectId);
    return { id: randomUUID(), projectId, pages: dto.pages };
  }

  @Post(':projectId/extractions')
  @Audit('run_extraction', 'cma_project', {
    entityId: { param: 'projectId' },
    metadata: ofSuccess<{ calls: number; failedCalls: number }>((run) => ({
      calls: run.calls,
      failedCalls: run.failedCalls,
    })),
    metadataClass: RunExtractionMetadata,
  })
  async extract(
    @Req() request: AuthenticatedRequest,
    @Param('projectId', ParseUUIDPipe) projectId: string,
  ) {
    await this.ownProject(request, projectId);
    let failedCalls = 0;
    for (const { taskType, ...call } of EXTRACTION_CALLS) {
      try {
        // firm and user come from the audited request's context
        await this.usage.track(
          { cmaProjectId: projectId, model: call.model, taskType },
          async () => {
            const response = await this.llm.generate(call);
            return {
              result: response.text,
              usage: usageFromGemini(response.usageMetadata),
            };
          },
        );
      } catch {
        failedCalls++;
      }
    }
    return { projectId, calls: EXTRACTION_CALLS.length, failedCalls };
  }

  @Post(':projectId/reviews/:reviewId/resolve')
  @Audit('resolve_review', 'review_item', {
    entityId: { param: 'reviewId' },
    metadata: ofSuccess<{ decision: string }>((review, params) => ({
      projectId: params.projectId,
      decision: review.decision,
    })),
    metadataClass: ResolveReviewMetadata,
  })
  async resolve(
    @Req() request: AuthenticatedRequest,
    @Param('projectId', ParseUUIDPipe) projectId: string,
    @Param('reviewId', ParseUUIDPipe) reviewId: string,
    @Body() dto: ResolveReviewDto,
  ) {
    await this.ownProject(request, projectId);
    return { id: reviewId, decision: dto.decision };
  }

  @Get(':projectId/cma')
  @Audit('download_cma', 'generated_file', {
    metadata: ofSuccess<{ projectId: string; format: string }>((file) => ({
      projectId: file.projectId,
      format: file.format,
    })),
    metadataClass: DownloadCmaMetadata,
  })
  async download(
    @Req() request: AuthenticatedRequest,
    @Param('projectId', ParseUUIDPipe) projectId: string,
  ) {
    await this.ownProject(request, projectId);
    return { id: randomUUID(), projectId, format: 'xlsx' };
  }

  private async ownProject(
    request: AuthenticatedRequest,
    projectId: string,
  ): Promise<void> {
    const found = await this.projects.existsBy({
      id: projectId,
      firmId: request.user.firmId,
    });
    if (!found) throw new NotFoundException(`project ${projectId} not found`);
  }
}
