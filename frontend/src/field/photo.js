// Photos are made small on the phone before they are kept or sent: a 12-megapixel camera picture is
// 4–8 MB, too much for a weak signal and for the outbox; redrawn on a canvas to at most 1600 px on the
// long side as a JPEG it is a few hundred kB and still shows what is wrong.
export const MAX_SIDE = 1600;
export const QUALITY = 0.82;

async function decode(file) {
  if (globalThis.createImageBitmap) {
    try {
      return await createImageBitmap(file, { imageOrientation: 'from-image' });
    } catch {
      /* fall back to an <img> */
    }
  }
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return img;
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** A JPEG Blob of `file` with its long side at most MAX_SIDE pixels. */
export async function compress(file, maxSide = MAX_SIDE, quality = QUALITY) {
  const image = await decode(file);
  const w = image.width || image.naturalWidth;
  const h = image.height || image.naturalHeight;
  const scale = Math.min(1, maxSide / Math.max(w, h));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(w * scale));
  canvas.height = Math.max(1, Math.round(h * scale));
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff'; // a transparent PNG becomes white, not black, as a JPEG
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  image.close?.();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
  if (!blob) throw new Error('JPEG encoding failed');
  return { blob, width: canvas.width, height: canvas.height };
}
