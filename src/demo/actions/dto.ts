import {
  IsIn,
  IsInt,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  Min,
} from 'class-validator';

export class CreateProjectDto {
  @IsString()
  @Length(1, 200)
  name: string;
}

export class UploadFileDto {
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,199}$/, {
    message:
      'fileName must be 1-200 letters, digits, spaces, _ . or -, starting with a letter or digit',
  })
  fileName: string;

  @IsInt()
  @Min(1)
  @Max(10_000)
  pages: number;
}

export class ResolveReviewDto {
  @IsIn(['accept', 'reject'])
  decision: 'accept' | 'reject';
}

/** What an `upload_file` audit row may store: the project and the page count. */
export class UploadFileMetadata {
  @IsUUID()
  projectId: string;

  @IsInt()
  @Max(10_000)
  pages: number;
}

/** What a `run_extraction` audit row may store: how many LLM calls ran and failed. */
export class RunExtractionMetadata {
  @IsInt()
  @Max(100)
  calls: number;

  @IsInt()
  @Max(100)
  failedCalls: number;
}

/** What a `create_project` audit row may store: the length of the name (the name stays in `cma_projects`). */
export class CreateProjectMetadata {
  @IsInt()
  @Max(200)
  nameLength: number;
}

/** What a `resolve_review` audit row may store: the project and the decision. */
export class ResolveReviewMetadata {
  @IsUUID()
  projectId: string;

  @IsIn(['accept', 'reject'])
  decision: 'accept' | 'reject';
}

/** What a `download_cma` audit row may store: the project and the file's format. */
export class DownloadCmaMetadata {
  @IsUUID()
  projectId: string;

  @IsIn(['xlsx'])
  format: 'xlsx';
}
