// SPDX-License-Identifier: Apache-2.0
// ImageDecoder (ai.onnx 20): encoded image bytes (uint8 1-D) -> uint8 image (H, W, C), C = 3 for
// pixel_format RGB / BGR, 1 for Grayscale.
//
// Decoders: JPEG with libjpeg-turbo (the spec's "fancy" chroma upsampling, the accurate integer
// IDCT: what PIL, and so the ONNX reference, produce); baseline TIFF (8-bit, uncompressed or
// PackBits, chunky, gray or RGB) with a small reader in this file; WebP (lossy and lossless, still
// images; an animation's is not decoded) with libwebp (WebPDecodeRGB: the "fancy" chroma upsampling
// libwebp and so PIL use by default); JPEG 2000 (JP2 file or raw J2K codestream) with OpenJPEG
// (libopenjp2: components of any precision scaled to 8 bits as PIL does, x >> (prec - 8) or
// x << (8 - prec), signed ones offset by 2^(prec-1); subsampled components repeated; sYCC converted
// with the JFIF equations; CMYK / e-YCC and more than 4 components are not decoded); PNG, BMP, PNM,
// GIF, TGA, PSD, HDR, PIC and CMYK JPEGs with stb_image.
// Grayscale is PIL's convert("L") of the RGB image: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16.
// An alpha channel is dropped.
//
// Hostile input: the header is read first (stbi_info_from_memory, jpeg_read_header, the TIFF
// directory, WebPGetInfo, opj_read_header) and an image of more than 2^28 bytes (W * H * 3; for
// JPEG 2000 also W * H * components, which OpenJPEG holds as int32 while decoding) is refused with
// an error before anything is decoded. Per the spec, a stream that cannot be decoded (corrupt, or a format
// without a decoder) gives an empty image (0, 0, C) and a warning.
#include <cstddef>
#include <cstdio>
// clang-format off
#include <jpeglib.h>
// clang-format on
#include <openjpeg.h>
#include <spdlog/spdlog.h>
#include <stb/stb_image.h>
#include <webp/decode.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include <csetjmp>
#include <cstring>
#include <limits>

#include "core/no_coverage.h"
#include "io/image_bounds.h"
#include "io/png_chunks.h"
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
  volatile bool too_big = false, beyond_bytes = false;
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
  } else if (!image_size_problem(data, size, cinfo.image_width, cinfo.image_height).empty()) {
    beyond_bytes = true;  // a truncated stream: libjpeg would fill the missing rows
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
  if (beyond_bytes) c.fail("input 'encoded_stream': " + image_size_problem(data, size, big_w, big_h));
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

// ---- WebP (libwebp) ----

void decode_webp(const KernelContext& c, const uint8_t* data, size_t size, Decoded& d) {
  int w = 0, h = 0;
  if (!WebPGetInfo(data, size, &w, &h)) {
    d.error = "WebP: corrupt or unsupported header";
    return;
  }
  if (w <= 0 || h <= 0) {
    d.error = "WebP: no image size";
    return;
  }
  if (too_large(static_cast<uint64_t>(w), static_cast<uint64_t>(h))) refuse_size(c, w, h);
  WebPBitstreamFeatures features;
  if (WebPGetFeatures(data, size, &features) != VP8_STATUS_OK) {
    d.error = "WebP: corrupt or unsupported header";
    return;
  }
  if (features.has_animation) {
    d.error = "WebP: animations are not decoded";
    return;
  }
  const size_t row = static_cast<size_t>(w) * 3;
  d.rgb.resize(row * h);
  if (!WebPDecodeRGBInto(data, size, d.rgb.data(), d.rgb.size(), static_cast<int>(row))) {
    d.rgb.clear();
    d.error = "WebP: corrupt image data";
    return;
  }
  d.width = w;
  d.height = h;
}

// ---- JPEG 2000 (OpenJPEG) ----

struct OpjMemory {  // the encoded stream, read through opj_stream callbacks
  const uint8_t* data;
  size_t size;
  size_t pos = 0;
};

OPJ_SIZE_T opj_mem_read(void* buf, OPJ_SIZE_T n, void* user) {
  auto* m = static_cast<OpjMemory*>(user);
  if (m->pos >= m->size) return static_cast<OPJ_SIZE_T>(-1);  // end of stream
  const size_t k = std::min<size_t>(n, m->size - m->pos);
  std::memcpy(buf, m->data + m->pos, k);
  m->pos += k;
  return k;
}
OPJ_OFF_T opj_mem_skip(OPJ_OFF_T n, void* user) {  // forward only, to the end at most; -1 past it
  auto* m = static_cast<OpjMemory*>(user);
  if (n < 0 || m->pos >= m->size) return -1;
  const size_t k = std::min<uint64_t>(static_cast<uint64_t>(n), m->size - m->pos);
  m->pos += k;
  return static_cast<OPJ_OFF_T>(k);
}
OPJ_BOOL opj_mem_seek(OPJ_OFF_T n, void* user) {
  auto* m = static_cast<OpjMemory*>(user);
  if (n < 0 || static_cast<uint64_t>(n) > m->size) return OPJ_FALSE;
  m->pos = static_cast<size_t>(n);
  return OPJ_TRUE;
}
void opj_keep_error(const char* msg, void* user) {
  auto* e = static_cast<std::string*>(user);
  if (e->empty()) {
    *e = msg;
    while (!e->empty() && (e->back() == '\n' || e->back() == ' ')) e->pop_back();
  }
}
void opj_quiet(const char*, void*) {}  // warnings and info are not printed

// One JPEG 2000 component -> an 8-bit plane of w x h on the image grid starting at (x0, y0):
// samples of any precision scaled to 8 bits as PIL does (x >> (prec - 8), x * 2^(8 - prec)),
// signed ones offset by 2^(prec - 1), subsampled components repeated. The caller checked comp.w,
// comp.h, comp.dx, comp.dy > 0 and 0 < comp.prec < 32.
QTOOL_NO_COVERAGE void component_to_plane(const opj_image_comp_t& comp, uint64_t x0, uint64_t y0, uint64_t w,
                                          uint64_t h, uint8_t* out) {
  const int64_t offset = comp.sgnd ? int64_t{1} << (comp.prec - 1) : 0;
  const int shift = static_cast<int>(comp.prec) - 8;
  const uint64_t cx0 = (x0 + comp.dx - 1) / comp.dx, cy0 = (y0 + comp.dy - 1) / comp.dy;
  auto sample_of = [](uint64_t pos, uint64_t step, uint64_t first, uint64_t count) {
    const uint64_t s = pos / step;
    return std::min<uint64_t>(s - std::min<uint64_t>(first, s), count - 1);
  };
  std::vector<uint64_t> column(w);  // component sample of each image column, computed once
  for (uint64_t x = 0; x < w; ++x) column[x] = sample_of(x0 + x, comp.dx, cx0, comp.w);
  for (uint64_t y = 0; y < h; ++y) {
    const OPJ_INT32* row = comp.data + sample_of(y0 + y, comp.dy, cy0, comp.h) * comp.w;
    uint8_t* line = out + y * w;
    if (shift >= 0) {
      for (uint64_t x = 0; x < w; ++x)
        line[x] = static_cast<uint8_t>(std::clamp<int64_t>((row[column[x]] + offset) >> shift, 0, 255));
    } else {
      for (uint64_t x = 0; x < w; ++x)
        line[x] = static_cast<uint8_t>(std::clamp<int64_t>((row[column[x]] + offset) * (int64_t{1} << -shift), 0, 255));
    }
  }
}

// 8-bit planes (1: gray, 3: RGB or sYCC) -> interleaved RGB of n pixels.
QTOOL_NO_COVERAGE void planes_to_rgb(const std::vector<std::vector<uint8_t>>& plane, bool sycc, uint64_t n,
                                     uint8_t* o) {
  if (plane.size() == 1) {
    const uint8_t* g = plane[0].data();
    for (uint64_t i = 0; i < n; ++i) o[3 * i] = o[3 * i + 1] = o[3 * i + 2] = g[i];
    return;
  }
  const uint8_t *p0 = plane[0].data(), *p1 = plane[1].data(), *p2 = plane[2].data();
  if (sycc) {  // JFIF: full-range Y, Cb, Cr centered at 128
    for (uint64_t i = 0; i < n; ++i) {
      const double Y = p0[i], cb = p1[i] - 128.0, cr = p2[i] - 128.0;
      const double rgb[3] = {Y + 1.402 * cr, Y - 0.344136 * cb - 0.714136 * cr, Y + 1.772 * cb};
      for (int k = 0; k < 3; ++k) o[3 * i + k] = static_cast<uint8_t>(std::clamp(std::lround(rgb[k]), 0L, 255L));
    }
  } else {
    for (uint64_t i = 0; i < n; ++i) o[3 * i] = p0[i], o[3 * i + 1] = p1[i], o[3 * i + 2] = p2[i];
  }
}

void decode_jpeg2000(const KernelContext& c, const uint8_t* data, size_t size, bool jp2, Decoded& d) {
  OpjMemory mem{data, size};
  std::string opj_error;
  std::unique_ptr<opj_stream_t, void (*)(opj_stream_t*)> stream(opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE),
                                                                opj_stream_destroy);
  std::unique_ptr<opj_codec_t, void (*)(opj_codec_t*)> codec(opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K),
                                                             opj_destroy_codec);
  if (!stream || !codec) {
    d.error = "JPEG 2000: cannot create the OpenJPEG decoder";
    return;
  }
  opj_stream_set_user_data(stream.get(), &mem, nullptr);
  opj_stream_set_user_data_length(stream.get(), size);
  opj_stream_set_read_function(stream.get(), opj_mem_read);
  opj_stream_set_skip_function(stream.get(), opj_mem_skip);
  opj_stream_set_seek_function(stream.get(), opj_mem_seek);
  opj_set_error_handler(codec.get(), opj_keep_error, &opj_error);
  opj_set_warning_handler(codec.get(), opj_quiet, nullptr);
  opj_set_info_handler(codec.get(), opj_quiet, nullptr);
  opj_dparameters_t params;
  opj_set_default_decoder_parameters(&params);
  auto fail = [&](const char* what) { d.error = std::string("JPEG 2000: ") + (opj_error.empty() ? what : opj_error); };
  if (!opj_setup_decoder(codec.get(), &params)) return fail("cannot set up the decoder");
  opj_image_t* raw = nullptr;
  const bool header = opj_read_header(stream.get(), codec.get(), &raw);
  std::unique_ptr<opj_image_t, void (*)(opj_image_t*)> image(raw, opj_image_destroy);
  if (!header || !image) return fail("corrupt header");
  if (image->x1 <= image->x0 || image->y1 <= image->y0 || image->numcomps == 0) return fail("no image size");
  const uint64_t w = image->x1 - image->x0, h = image->y1 - image->y0, nc = image->numcomps;
  if (too_large(w, h)) refuse_size(c, w, h);
  if (w * h * nc > kMaxImageBytes)
    c.fail("the image is " + std::to_string(w) + " x " + std::to_string(h) + " pixels of " + std::to_string(nc) +
           " components, more than the " + std::to_string(kMaxImageBytes >> 20) + " MiB the decoder accepts");
  if (nc > 4) return fail("more than 4 components");
  if (image->color_space == OPJ_CLRSPC_CMYK || image->color_space == OPJ_CLRSPC_EYCC)
    return fail("CMYK and e-YCC images are not decoded");
  if (!opj_decode(codec.get(), stream.get(), image.get()) || !opj_end_decompress(codec.get(), stream.get()))
    return fail("corrupt image data");
  // Components -> 8-bit planes on the image grid (subsampled components repeated).
  const bool color = nc >= 3;
  const int planes = color ? 3 : 1;
  std::vector<std::vector<uint8_t>> plane(planes, std::vector<uint8_t>(w * h));
  for (int k = 0; k < planes; ++k) {
    const opj_image_comp_t& comp = image->comps[k];
    if (!comp.data || comp.w == 0 || comp.h == 0 || comp.dx == 0 || comp.dy == 0 || comp.prec == 0 || comp.prec > 31)
      return fail("a component without data");
    component_to_plane(comp, image->x0, image->y0, w, h, plane[k].data());
  }
  d.width = static_cast<int>(w);
  d.height = static_cast<int>(h);
  d.rgb.resize(w * h * 3);
  planes_to_rgb(plane, color && image->color_space == OPJ_CLRSPC_SYCC, w * h, d.rgb.data());
}

// ---- stb_image ----

void decode_stb(const KernelContext& c, const uint8_t* data, size_t size, Decoded& d) {
  if (size > static_cast<size_t>(std::numeric_limits<int>::max())) {
    d.error = "stream too large";
    return;
  }
  const std::string png_problem = png_chunk_problem(data, size);  // before stb_image allocates by it
  if (!png_problem.empty()) {
    d.error = png_problem;
    return;
  }
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, static_cast<int>(size), &w, &h, &comp)) {
    d.error = std::string("unknown or corrupt image format (") + stbi_failure_reason() + ")";
    return;
  }
  if (w <= 0 || h <= 0 || too_large(static_cast<uint64_t>(w), static_cast<uint64_t>(h))) refuse_size(c, w, h);
  const std::string size_problem = image_size_problem(data, size, static_cast<uint64_t>(w), static_cast<uint64_t>(h));
  if (!size_problem.empty()) c.fail("input 'encoded_stream': " + size_problem);
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

// Decoded RGB -> the pixel_format asked for: RGB, BGR, or Grayscale (PIL's convert("L")).
QTOOL_NO_COVERAGE void rgb_to_output(const uint8_t* s, size_t n, const std::string& fmt, uint8_t* o) {
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
  static constexpr uint8_t kJp2Signature[12] = {0, 0, 0, 12, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A};
  const bool webp = size >= 12 && std::memcmp(data, "RIFF", 4) == 0 && std::memcmp(data + 8, "WEBP", 4) == 0;
  const bool jp2 = size >= 12 && std::memcmp(data, kJp2Signature, 12) == 0;
  const bool j2k = size >= 4 && data[0] == 0xFF && data[1] == 0x4F && data[2] == 0xFF && data[3] == 0x51;
  if (webp) {
    decode_webp(c, data, size, d);
  } else if (jp2 || j2k) {
    decode_jpeg2000(c, data, size, jp2, d);
  } else if (jpeg) {
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
  rgb_to_output(d.rgb.data(), n, fmt, o);
  c.outputs[0] = std::move(y);
}

}  // namespace

void register_image_ops(OpRegistry& r) {
  r.add("", "ImageDecoder", {20}, OpDef{image_decoder, nullptr, image_decoder_validate});
}

}  // namespace qtool
