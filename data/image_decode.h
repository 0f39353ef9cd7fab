// Image files to uint8 RGB, deciding the format from the content (magic bytes), never from the
// file name, and refusing before any pixel is decoded what would be too large. Accepted:
// JPEG, PNG, BMP and WebP; anything else is an unreadable sample, with the reason.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace pretext {

enum class ImageFormat { kUnknown, kJpeg, kPng, kBmp, kWebp, kGif, kTiff, kPnm, kIco };

/// "JPEG", "PNG", ...
const char* format_name(ImageFormat format);

/// What the header says, read without decoding.
struct ImageHeader {
  ImageFormat format = ImageFormat::kUnknown;
  int64_t width = 0;
  int64_t height = 0;
};

struct DecodeOptions {
  /// Largest width x height accepted, checked from the header before decoding (PIL's
  /// decompression-bomb limit, Image.MAX_IMAGE_PIXELS, is 89478485).
  int64_t max_pixels = 89478485;
  /// > 0: a JPEG may be decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, much faster)
  /// as long as its shorter side stays >= min_side (and min_sqrt_area holds). 0: no constraint.
  int64_t min_side = 0;
  /// > 0: ... as long as sqrt(width * height) stays >= min_sqrt_area. With both 0: full size.
  double min_sqrt_area = 0.0;
};

/// Format and size of an encoded image (`bytes` is the whole file). Throws UnreadableSample
/// naming `source` when the file is empty, not an image, of a type not accepted, or its header
/// is cut short. Does not check max_pixels or the end of the data.
ImageHeader read_image_header(const uint8_t* bytes, size_t size, const std::string& source);

/// Decodes a whole encoded file to HxWx3 uint8 RGB (grayscale replicated, alpha dropped,
/// 16-bit scaled). Throws UnreadableSample naming `source` and the reason: empty, not an
/// image, a type not accepted, over max_pixels, truncated, or corrupt.
cv::Mat decode_image(const uint8_t* bytes, size_t size, const std::string& source,
                     const DecodeOptions& options);

/// Reads `path` and decodes it as above; an unreadable file is an UnreadableSample too.
cv::Mat decode_image_file(const std::string& path, const DecodeOptions& options);

/// The whole file's bytes; throws UnreadableSample naming the path when it cannot be read.
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace pretext
