// SPDX-License-Identifier: Apache-2.0
// ImageDecoder (ai.onnx 20): encoded image bytes (uint8 1-D) -> uint8 image (H, W, C), C = 3 for
// pixel_format RGB / BGR, 1 for Grayscale.
//
// Decoders: JPEG with libjpeg-turbo (the spec's "fancy" chroma upsampling, the accurate integer
// IDCT: what PIL, and so the ONNX reference, produce); baseline TIFF (8-bit, uncompressed or
// PackBits, chunky, gray or RGB) with a small reader in this file; PNG, BMP, PNM, GIF, TGA, PSD,
// HDR, PIC and CMYK JPEGs with stb_image. JPEG 2000 and WebP have no decoder here.
// Grayscale is PIL's convert("L") of the RGB image: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16.
// An alpha channel is dropped.
//
// Hostile input: the header is read first (stbi_info_from_memory, jpeg_read_header, the TIFF
// directory) and an image of more than 2^28 bytes (W * H * 3) is refused with an error before
// anything is decoded. Per the spec, a stream that cannot be decoded (corrupt, or a format
// without a decoder) gives an empty image (0, 0, C) and a warning.
#include <cstddef>
#include <cstdio>
// clang-format off
#include <jpeglib.h>
// clang-format on
#include <spdlog/spdlog.h>
#include <stb/stb_image.h>

#include <csetjmp>
#include <cstring>
#include <limits>

#include "runtime/op_registry.h"

namespace qtool {

namespace {

constexpr uint64_t kMaxImageBytes = uint64_t{1} << 28;

struct Decoded {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3
  std::string error;         // set when decoding failed
};

[[noreturn]] void refuse_size(const KernelContext& c, uint64_t w, uint64_t h) {
  c.fail("the image is " + std::to_string(w) + " x " + std::to_string(h) + " pixels, more than the " +
         std::to_string(kMaxImageBytes >> 20) + " MiB the decoder accepts");
}

bool too_large(uint64_t w, uint64_t h) { return w == 0 || h == 0 ? false : w * h > kMaxImageBytes / 3 || w > (1u << 30) || h > (1u << 30); }

// ---- JPEG (libjpeg-turbo) ----

struct JpegError {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}
void jpeg_quiet(j_common_ptr, int) {}  // corrupt-data warnings are not printed

// Returns false (with d.error) when the stream is not a JPEG libjpeg decodes to gray / RGB (CMYK
// goes to stb_image); refuses oversized images through `c`.
bool decode_jpeg(const KernelContext& c, const uint8_t* data, size_t size, Decoded& d) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.emit_message = jpeg_quiet;
  err.message[0] = 0;
  volatile bool too_big = false;
  volatile uint64_t big_w = 0, big_h = 0;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    d.error = std::string("JPEG: ") + err.message;
    d.rgb.clear();
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, const_cast<unsigned char*>(data), static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&cinfo);
    d.error = "JPEG: CMYK";
    return false;
  }
  if (too_large(cinfo.image_width, cinfo.image_height)) {
    too_big = true;
    big_w = cinfo.image_width;
    big_h = cinfo.image_height;
  } else {
    cinfo.out_color_space = JCS_RGB;
    cinfo.do_fancy_upsampling = TRUE;
    cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&cinfo);
    d.width = static_cast<int>(cinfo.output_width);
    d.height = static_cast<int>(cinfo.output_height);
    const size_t row = static_cast<size_t>(d.width) * 3;
    d.rgb.resize(row * d.height);
    while (cinfo.output_scanline < cinfo.output_height) {
      JSAMPROW r = d.rgb.data() + row * cinfo.output_scanline;
      jpeg_read_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_decompress(&cinfo);
  }
  jpeg_destroy_decompress(&cinfo);
  if (too_big) refuse_size(c, big_w, big_h);
  return true;
}

// ---- Baseline TIFF ----

class TiffReader {
 public:
  TiffReader(const uint8_t* p, size_t n) : p_(p), n_(n) {}

  // Fills d (or d.error); refuses oversized images through `c`.
  void decode(const KernelContext& c, Decoded& d) {
    if (n_ < 8) return bad(d, "truncated header");
    le_ = p_[0] == 'I';
    if (u16(2) != 42) return bad(d, "not a TIFF");
    const uint64_t ifd = u32(4);
    if (ifd + 2 > n_) return bad(d, "directory out of range");
    const uint32_t count = u16(ifd);
    uint64_t width = 0, height = 0, spp = 1, compression = 1, photometric = 2, planar = 1, rows_per_strip = 0;
    std::vector<uint64_t> bits, offsets, counts;
    for (uint32_t i = 0; i < count; ++i) {
      const uint64_t e = ifd + 2 + uint64_t{12} * i;
      if (e + 12 > n_) return bad(d, "directory entry out of range");
      const uint32_t tag = u16(e), type = u16(e + 2);
      const uint64_t num = u32(e + 4);
      std::vector<uint64_t> v;
      if (!values(e, type, num, v)) return bad(d, "bad value of tag " + std::to_string(tag));
      if (v.empty()) continue;
      switch (tag) {
        case 256: width = v[0]; break;
        case 257: height = v[0]; break;
        case 258: bits = v; break;
        case 259: compression = v[0]; break;
        case 262: photometric = v[0]; break;
        case 273: offsets = v; break;
        case 277: spp = v[0]; break;
        case 278: rows_per_strip = v[0]; break;
        case 279: counts = v; break;
        case 284: planar = v[0]; break;
        default: break;
      }
    }
    if (width == 0 || height == 0) return bad(d, "no image size");
    if (too_large(width, height)) refuse_size(c, width, height);
    for (uint64_t b : bits)
      if (b != 8) return bad(d, "only 8-bit samples are supported");
    if (compression != 1 && compression != 32773) return bad(d, "compression " + std::to_string(compression) + " is not supported");
    if (planar != 1) return bad(d, "planar configuration " + std::to_string(planar) + " is not supported");
    if (photometric > 2) return bad(d, "photometric interpretation " + std::to_string(photometric) + " is not supported");
    if (spp < 1 || spp > 8 || (photometric == 2 && spp < 3)) return bad(d, "unsupported samples per pixel");
    if (offsets.empty() || offsets.size() != counts.size()) return bad(d, "bad strips");
    if (rows_per_strip == 0 || rows_per_strip > height) rows_per_strip = height;
    const uint64_t row_bytes = width * spp, total = row_bytes * height;
    std::vector<uint8_t> raw;
    raw.reserve(total);
    for (size_t s = 0; s < offsets.size() && raw.size() < total; ++s) {
      if (offsets[s] > n_ || counts[s] > n_ - offsets[s]) return bad(d, "strip out of range");
      const uint8_t* q = p_ + offsets[s];
      const uint64_t len = counts[s];
      const uint64_t want = std::min<uint64_t>(total - raw.size(), rows_per_strip * row_bytes);
      if (compression == 1) {
        raw.insert(raw.end(), q, q + std::min(len, want));
      } else {  // PackBits
        uint64_t k = 0, got = 0;
        while (k < len && got < want) {
          const int8_t h = static_cast<int8_t>(q[k++]);
          if (h >= 0) {
            const uint64_t m = std::min<uint64_t>(static_cast<uint64_t>(h) + 1, len - k);
            raw.insert(raw.end(), q + k, q + k + m);
            k += m;
            got += m;
          } else if (h != -128) {
            if (k >= len) break;
            const uint64_t m = static_cast<uint64_t>(1 - h);
            raw.insert(raw.end(), m, q[k++]);
            got += m;
          }
        }
      }
    }
    if (raw.size() < total) return bad(d, "image data truncated");
    d.width = static_cast<int>(width);
    d.height = static_cast<int>(height);
    d.rgb.resize(width * height * 3);
    for (uint64_t i = 0; i < width * height; ++i) {
      const uint8_t* px = raw.data() + i * spp;
      uint8_t* o = d.rgb.data() + i * 3;
      if (photometric == 2) {
        o[0] = px[0], o[1] = px[1], o[2] = px[2];
      } else {
        const uint8_t g = photometric == 0 ? static_cast<uint8_t>(255 - px[0]) : px[0];
        o[0] = o[1] = o[2] = g;
      }
    }
  }

 private:
  void bad(Decoded& d, const std::string& what) { d.error = "TIFF: " + what; }
  uint32_t u16(uint64_t o) const {
    if (o + 2 > n_) return 0;
    return le_ ? p_[o] | (p_[o + 1] << 8) : (p_[o] << 8) | p_[o + 1];
  }
  uint64_t u32(uint64_t o) const {
    if (o + 4 > n_) return 0;
    return le_ ? uint64_t{p_[o]} | (uint64_t{p_[o + 1]} << 8) | (uint64_t{p_[o + 2]} << 16) | (uint64_t{p_[o + 3]} << 24)
               : (uint64_t{p_[o]} << 24) | (uint64_t{p_[o + 1]} << 16) | (uint64_t{p_[o + 2]} << 8) | uint64_t{p_[o + 3]};
  }
  // Values of an entry of type SHORT (3) or LONG (4), inline or at an offset.
  bool values(uint64_t e, uint32_t type, uint64_t num, std::vector<uint64_t>& v) const {
    const uint64_t size = type == 3 ? 2 : type == 4 ? 4 : 0;
    if (size == 0) return true;  // other types: not needed
    if (num > (uint64_t{1} << 24)) return false;
    const uint64_t bytes = size * num;
    const uint64_t at = bytes <= 4 ? e + 8 : u32(e + 8);
    if (at > n_ || bytes > n_ - at) return false;
    for (uint64_t k = 0; k < num; ++k) v.push_back(size == 2 ? u16(at + 2 * k) : u32(at + 4 * k));
    return true;
  }
  const uint8_t* p_;
  size_t n_;
  bool le_ = true;
};

// ---- stb_image ----

void decode_stb(const KernelContext& c, const uint8_t* data, size_t size, Decoded& d) {
  if (size > static_cast<size_t>(std::numeric_limits<int>::max())) {
    d.error = "stream too large";
    return;
  }
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, static_cast<int>(size), &w, &h, &comp)) {
    d.error = std::string("unknown or corrupt image format (") + stbi_failure_reason() + ")";
    return;
  }
  if (w <= 0 || h <= 0 || too_large(static_cast<uint64_t>(w), static_cast<uint64_t>(h))) refuse_size(c, w, h);
  unsigned char* img = stbi_load_from_memory(data, static_cast<int>(size), &w, &h, &comp, 3);
  if (!img) {
    d.error = std::string("cannot decode (") + stbi_failure_reason() + ")";
    return;
  }
  d.width = w;
  d.height = h;
  d.rgb.assign(img, img + static_cast<size_t>(w) * h * 3);
  stbi_image_free(img);
}

void image_decoder_validate(KernelContext& c) {
  const std::string fmt = attr_string(c.node, "pixel_format", "RGB");
  if (fmt != "RGB" && fmt != "BGR" && fmt != "Grayscale")
    c.fail("attribute 'pixel_format': '" + fmt + "' is not one of RGB, BGR, Grayscale");
  if (!c.has(0)) return;
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::kUInt8) c.fail("input 'encoded_stream' must be uint8, got " + dtype_name(x.dtype()));
  if (x.rank() != 1) c.fail("input 'encoded_stream' must be 1-D, got " + shape_str(x.shape()));
}

void image_decoder(KernelContext& c) {
  image_decoder_validate(c);
  const std::string fmt = attr_string(c.node, "pixel_format", "RGB");
  const Tensor& x = c.in(0);
  const uint8_t* data = x.data<uint8_t>();
  const size_t size = static_cast<size_t>(x.numel());
  Decoded d;
  const bool jpeg = size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
  const bool tiff = size >= 4 && ((data[0] == 'I' && data[1] == 'I' && data[2] == 42 && data[3] == 0) ||
                                  (data[0] == 'M' && data[1] == 'M' && data[2] == 0 && data[3] == 42));
  if (jpeg) {
    if (!decode_jpeg(c, data, size, d) && d.error == "JPEG: CMYK") {
      d.error.clear();
      decode_stb(c, data, size, d);
    }
  } else if (tiff) {
    TiffReader(data, size).decode(c, d);
  } else {
    decode_stb(c, data, size, d);
  }
  const int64_t channels = fmt == "Grayscale" ? 1 : 3;
  if (!d.error.empty()) {
    spdlog::warn("{}: cannot decode the image ({}); the output is empty, as the spec says", node_label(c.node), d.error);
    c.outputs[0] = Tensor(DType::kUInt8, {0, 0, channels});
    return;
  }
  Tensor y = Tensor::uninitialized(DType::kUInt8, {d.height, d.width, channels});
  uint8_t* o = y.data<uint8_t>();
  const size_t n = static_cast<size_t>(d.width) * d.height;
  const uint8_t* s = d.rgb.data();
  if (fmt == "RGB") {
    std::memcpy(o, s, n * 3);
  } else if (fmt == "BGR") {
    for (size_t i = 0; i < n; ++i) {
      o[3 * i] = s[3 * i + 2];
      o[3 * i + 1] = s[3 * i + 1];
      o[3 * i + 2] = s[3 * i];
    }
  } else {
    for (size_t i = 0; i < n; ++i)
      o[i] = static_cast<uint8_t>((19595u * s[3 * i] + 38470u * s[3 * i + 1] + 7471u * s[3 * i + 2] + 0x8000u) >> 16);
  }
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_image_ops(OpRegistry& r) {
  r.add("", "ImageDecoder", {20}, OpDef{image_decoder, nullptr, image_decoder_validate});
}

}  // namespace qtool
