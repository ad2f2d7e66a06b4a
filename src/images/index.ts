// The disk image readers' public surface, for the engine, the UI and the CLI.
export { openImage, detectFormat } from './open-image.ts';
export { openPackedImage, type PackedImage } from './open-packed-image.ts';
export { unwrapContainers, detectContainer, memorySpool, MAX_NESTING, type ContainerKind, type Spool, type Unwrapped } from './containers.ts';
export { blobSource } from './blob-source.ts';
export { memorySource, subSource } from './byte-source.ts';
export { summarizeImage, volumeSizeGiB, type ImageSummary } from './summary.ts';
export { buildManifest, type UploadManifest } from './manifest.ts';
export { isAllZero } from './zero-scan.ts';
export { BLOCK_SIZE, BlockState, ImageFormatError, type ByteSource, type DiskImage, type ImageFormat } from './types.ts';
export { detectBoot, type BootInfo, type BootArchitecture, type BootMode } from './boot/detect-boot.ts';
export { checkNitro, type NitroFinding } from './boot/nitro-check.ts';
