// Image decoding by content with a pixel limit checked from the header.
// Reference: the format specifications for the header fields read here (JPEG ITU T.81 markers,
// PNG IHDR/IEND, BMP BITMAPINFOHEADER, WebP RIFF VP8/VP8L/VP8X), PIL's MAX_IMAGE_PIXELS for
// the default limit, PIL's "image file is truncated" refusal for the end-of-data checks.
// Deviations: a JPEG without its end-of-image marker, or a PNG without IEND, is refused even
// where libjpeg would fill the missing rows with gray (PIL refuses these too).
#include "data/image_decode.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "data/dataset.h"

namespace pretext {

namespace {

constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

uint32_t be16(const uint8_t* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t be32(const uint8_t* p) { return (be16(p) << 16) | be16(p + 2); }
uint32_t le16(const uint8_t* p) { return (uint32_t{p[1]} << 8) | p[0]; }
uint32_t le24(const uint8_t* p) { return (uint32_t{p[2]} << 16) | le16(p); }
uint32_t le32(const uint8_t* p) { return (le16(p + 2) << 16) | le16(p); }

bool starts_with(const uint8_t* bytes, size_t size, const void* magic, size_t length) {
  return size >= length && std::memcmp(bytes, magic, length) == 0;
}

ImageFormat sniff(const uint8_t* b, size_t n) {
  if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return ImageFormat::kJpeg;
  if (starts_with(b, n, kPngSignature, 8)) return ImageFormat::kPng;
  if (starts_with(b, n, "BM", 2)) return ImageFormat::kBmp;
  if (n >= 12 && starts_with(b, n, "RIFF", 4) && std::memcmp(b + 8, "WEBP", 4) == 0) {
    return ImageFormat::kWebp;
  }
  if (starts_with(b, n, "GIF87a", 6) || starts_with(b, n, "GIF89a", 6)) return ImageFormat::kGif;
  if (starts_with(b, n, "II*\0", 4) || starts_with(b, n, "MM\0*", 4)) return ImageFormat::kTiff;
  if (n >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6') return ImageFormat::kPnm;
  if (starts_with(b, n, "\0\0\1\0", 4)) return ImageFormat::kIco;
  return ImageFormat::kUnknown;
}

std::string leading_bytes(const uint8_t* b, size_t n) {
  std::string text;
  char hex[4];
  for (size_t i = 0; i < std::min<size_t>(n, 8); ++i) {
    std::snprintf(hex, sizeof(hex), i == 0 ? "%02x" : " %02x", b[i]);
    text += hex;
  }
  return text;
}

[[noreturn]] void unreadable(const std::string& source, const std::string& reason) {
  throw UnreadableSample(source, reason);
}

std::string truncated(const char* format, size_t offset, const char* what) {
  return std::string("truncated ") + format + ": data ends at byte offset " +
         std::to_string(offset) + " " + what;
}

/// Walks the marker segments up to the first scan: frame size from SOFn, and the offset where
/// the entropy-coded data starts. Markers are FF xx; all but RSTn/SOI/EOI/TEM carry a length.
ImageHeader jpeg_header(const uint8_t* b, size_t n, const std::string& source, size_t* scan) {
  ImageHeader header{ImageFormat::kJpeg, 0, 0};
  size_t at = 2;
  while (true) {
    while (at < n && b[at] != 0xff) ++at;  // tolerate garbage between segments
    while (at < n && b[at] == 0xff) ++at;  // fill bytes
    if (at >= n) unreadable(source, truncated("JPEG", n, "inside the header (no scan found)"));
    const uint8_t marker = b[at++];
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue;
    if (marker == 0xd9) unreadable(source, "JPEG ends (EOI) before any image data");
    if (at + 2 > n) unreadable(source, truncated("JPEG", n, "inside a segment length"));
    const size_t length = be16(b + at);
    if (length < 2) {
      unreadable(source, "corrupt JPEG: segment length " + std::to_string(length) +
                             " at byte offset " + std::to_string(at));
    }
    const bool frame =
        marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
    if (frame) {
      if (at + 7 > n) unreadable(source, truncated("JPEG", n, "inside the frame header"));
      header.height = be16(b + at + 3);
      header.width = be16(b + at + 5);
    }
    if (marker == 0xda) {
      if (header.width == 0 && header.height == 0) {
        unreadable(source, "corrupt JPEG: scan at byte offset " + std::to_string(at - 2) +
                               " before any frame (SOF) header");
      }
      *scan = std::min(n, at + length);
      return header;
    }
    at += length;
  }
}

ImageHeader png_header(const uint8_t* b, size_t n, const std::string& source) {
  if (n < 24) unreadable(source, truncated("PNG", n, "inside the IHDR header (24 bytes)"));
  if (std::memcmp(b + 12, "IHDR", 4) != 0)
    unreadable(source, "corrupt PNG: first chunk is not IHDR");
  return {ImageFormat::kPng, be32(b + 16), be32(b + 20)};
}

ImageHeader bmp_header(const uint8_t* b, size_t n, const std::string& source) {
  if (n < 26) unreadable(source, truncated("BMP", n, "inside the header"));
  const uint32_t info_size = le32(b + 14);
  if (info_size == 12) return {ImageFormat::kBmp, le16(b + 18), le16(b + 20)};
  if (n < 34) unreadable(source, truncated("BMP", n, "inside the info header"));
  const int32_t width = static_cast<int32_t>(le32(b + 18));
  const int32_t height = static_cast<int32_t>(le32(b + 22));
  ImageHeader header{ImageFormat::kBmp, std::abs(int64_t{width}), std::abs(int64_t{height})};
  const uint32_t bits = le16(b + 28);
  const uint32_t compression = le32(b + 30);
  if (compression == 0 && bits > 0) {  // uncompressed: the pixel array size is known
    const uint64_t row = (static_cast<uint64_t>(header.width) * bits + 31) / 32 * 4;
    const uint64_t end = le32(b + 10) + row * static_cast<uint64_t>(header.height);
    if (end > n) {
      unreadable(source,
                 truncated("BMP", n, ("but its pixel array needs " + std::to_string(end)).c_str()));
    }
  }
  return header;
}

ImageHeader webp_header(const uint8_t* b, size_t n, const std::string& source) {
  const size_t riff_end = size_t{le32(b + 4)} + 8;
  if (riff_end > n) {
    unreadable(source, truncated("WebP", n,
                                 ("but its RIFF size says " + std::to_string(riff_end)).c_str()));
  }
  if (n < 30) unreadable(source, truncated("WebP", n, "inside the header"));
  if (std::memcmp(b + 12, "VP8 ", 4) == 0) {
    return {ImageFormat::kWebp, le16(b + 26) & 0x3fff, le16(b + 28) & 0x3fff};
  }
  if (std::memcmp(b + 12, "VP8L", 4) == 0) {
    const uint32_t bits = le32(b + 21);
    return {ImageFormat::kWebp, (bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1};
  }
  if (std::memcmp(b + 12, "VP8X", 4) == 0) {
    return {ImageFormat::kWebp, int64_t{le24(b + 24)} + 1, int64_t{le24(b + 27)} + 1};
  }
  unreadable(source, "corrupt WebP: unknown first chunk '" + std::string(b + 12, b + 16) + "'");
}

/// Whether the data runs to the format's end marker: FF D9 after the scan (it cannot occur
/// inside entropy-coded data, where FF is followed by 00 or RSTn) or a final IEND chunk.
void check_complete(const ImageHeader& header, const uint8_t* b, size_t n, size_t scan,
                    const std::string& source) {
  if (header.format == ImageFormat::kJpeg) {
    for (size_t i = scan; i + 1 < n; ++i) {
      if (b[i] == 0xff && b[i + 1] == 0xd9) return;
    }
    unreadable(source, truncated("JPEG", n, "with no end-of-image marker (FF D9) after the scan"));
  }
  if (header.format == ImageFormat::kPng) {
    for (size_t i = n >= 12 ? n - 12 : 0; i + 4 <= n; ++i) {
      if (std::memcmp(b + i, "IEND", 4) == 0) return;
    }
    unreadable(source, truncated("PNG", n, "before the IEND chunk"));
  }
}

/// The largest libjpeg DCT scale (1, 2, 4, 8) keeping the shorter side >= min_side and
/// sqrt(area) >= min_sqrt_area.
int reduced_scale(const ImageHeader& header, const DecodeOptions& options) {
  if (header.format != ImageFormat::kJpeg ||
      (options.min_side <= 0 && options.min_sqrt_area <= 0)) {
    return 1;
  }
  const int64_t shorter = std::min(header.width, header.height);
  const double sqrt_area =
      std::sqrt(static_cast<double>(header.width) * static_cast<double>(header.height));
  int scale = 1;
  while (scale < 8 && shorter / (2 * scale) >= options.min_side &&
         sqrt_area / (2 * scale) >= options.min_sqrt_area) {
    scale *= 2;
  }
  return scale;
}

}  // namespace

const char* format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kBmp:
      return "BMP";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kGif:
      return "GIF";
    case ImageFormat::kTiff:
      return "TIFF";
    case ImageFormat::kPnm:
      return "PNM";
    case ImageFormat::kIco:
      return "ICO";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

ImageHeader read_image_header(const uint8_t* bytes, size_t size, const std::string& source) {
  size_t scan = 0;
  if (size == 0) unreadable(source, "empty file (0 bytes)");
  const ImageFormat format = sniff(bytes, size);
  switch (format) {
    case ImageFormat::kJpeg:
      return jpeg_header(bytes, size, source, &scan);
    case ImageFormat::kPng:
      return png_header(bytes, size, source);
    case ImageFormat::kBmp:
      return bmp_header(bytes, size, source);
    case ImageFormat::kWebp:
      return webp_header(bytes, size, source);
    case ImageFormat::kUnknown:
      unreadable(source, "not an image: content starts with bytes " + leading_bytes(bytes, size) +
                             " (accepted: JPEG, PNG, BMP, WebP, recognized by content)");
    default:
      unreadable(source, std::string(format_name(format)) +
                             " image: type not accepted (accepted: JPEG, PNG, BMP, WebP); "
                             "convert or remove the file");
  }
}

cv::Mat decode_image(const uint8_t* bytes, size_t size, const std::string& source,
                     const DecodeOptions& options) {
  ImageHeader header = read_image_header(bytes, size, source);
  size_t scan = 0;
  if (header.format == ImageFormat::kJpeg) header = jpeg_header(bytes, size, source, &scan);
  if (header.width <= 0 || header.height <= 0) {
    unreadable(source, std::string("corrupt ") + format_name(header.format) + ": header declares " +
                           std::to_string(header.width) + "x" + std::to_string(header.height) +
                           " pixels");
  }
  const int64_t pixels = header.width * header.height;
  if (pixels > options.max_pixels) {
    unreadable(source, std::to_string(header.width) + "x" + std::to_string(header.height) + " = " +
                           std::to_string(pixels) + " pixels is over data.max_pixels = " +
                           std::to_string(options.max_pixels) +
                           " (checked before decoding; raise data.max_pixels to accept it)");
  }
  check_complete(header, bytes, size, scan, source);
  const int scale = reduced_scale(header, options);
  const int flags = scale == 8   ? cv::IMREAD_REDUCED_COLOR_8
                    : scale == 4 ? cv::IMREAD_REDUCED_COLOR_4
                    : scale == 2 ? cv::IMREAD_REDUCED_COLOR_2
                                 : cv::IMREAD_COLOR;
  cv::Mat bgr;
  try {
    const cv::Mat encoded(1, static_cast<int>(size), CV_8UC1, const_cast<uint8_t*>(bytes));
    bgr = cv::imdecode(encoded, flags);
  } catch (const cv::Exception& e) {
    unreadable(source, std::string("corrupt ") + format_name(header.format) + ": " + e.what());
  }
  if (bgr.empty()) {
    unreadable(source,
               std::string("corrupt ") + format_name(header.format) + " data: the decoder gave up");
  }
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  // One read of the known size: an istreambuf_iterator loop costs more than the decode.
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in.good()) unreadable(path, "cannot open the file (missing or no read permission)");
  const std::streamoff size = in.tellg();
  if (size < 0) unreadable(path, "cannot determine the file size");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  if (in.gcount() != size) unreadable(path, "I/O error while reading (did the file shrink?)");
  return bytes;
}

cv::Mat decode_image_file(const std::string& path, const DecodeOptions& options) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode_image(bytes.data(), bytes.size(), path, options);
}

}  // namespace pretext
