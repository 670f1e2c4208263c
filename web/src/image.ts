// Images in and out of the models: the upload checks (type, 10 MB), the resize the dataset
// uses (shorter side, then centre crop) to a [-1, 1] CHW tensor, and a tensor back to pixels
// with models/data.py's to_uint8 rounding.

export const MAX_BYTES = 10 * 1024 * 1024;
export const ACCEPTED_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp"];

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** Why a file cannot be classified, or null when it may be. Nothing runs on a refusal. */
export function refusal(file: File): string | null {
  if (!ACCEPTED_TYPES.includes(file.type)) {
    const type = file.type === "" ? "an unknown type" : file.type;
    return `${file.name} is not an image (${type}); choose a PNG, JPEG, WebP, GIF or BMP file.`;
  }
  if (file.size > MAX_BYTES) {
    return `${file.name} is ${megabytes(file.size)}; the limit is 10 MB. Choose a smaller image.`;
  }
  return null;
}

/** Decode, centre-crop and resize to size x size on `canvas`; the CHW float tensor. */
export async function toTensor(blob: Blob, size: number, canvas: HTMLCanvasElement): Promise<Float32Array> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob);
  } catch {
    throw new Error("the file could not be decoded as an image; choose another file.");
  }
  const side = Math.min(bitmap.width, bitmap.height);
  canvas.width = size;
  canvas.height = size;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  if (context === null) throw new Error("this browser gives no 2D canvas");
  context.imageSmoothingQuality = "high";
  const sx = (bitmap.width - side) / 2;
  const sy = (bitmap.height - side) / 2;
  context.drawImage(bitmap, sx, sy, side, side, 0, 0, size, size);
  bitmap.close();
  const { data } = context.getImageData(0, 0, size, size);
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = data[4 * i + c] / 127.5 - 1;
  }
  return out;
}

/** A [-1, 1] CHW tensor drawn on canvas at its own size (CSS scales it up). */
export function draw(image: Float32Array, size: number, canvas: HTMLCanvasElement): void {
  canvas.width = size;
  canvas.height = size;
  const context = canvas.getContext("2d");
  if (context === null) throw new Error("this browser gives no 2D canvas");
  const pixels = context.createImageData(size, size);
  const plane = size * size;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const value = Math.round((image[c * plane + i] + 1) * 127.5);
      pixels.data[4 * i + c] = Math.min(255, Math.max(0, value));
    }
    pixels.data[4 * i + 3] = 255;
  }
  context.putImageData(pixels, 0, 0);
}
