import {
  IsIn,
  IsInt,
  IsString,
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
