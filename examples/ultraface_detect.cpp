// What the ncnn / MNN UltraFace demos do after the network -- UltraFace::detect's generateBBox() and nms(): the
// model's scores [N, 2] and raw box deltas [N, 4] in, faces in image pixels out -- through the ultrapost host
// library: one up_run_f32 call with a config prepared once on the host (cfg_ultraface.h, written by
// `ultrapost codegen --host`, compiled in by ultraface_config.c; see examples/README.md).
//
// usage: ultraface_detect SCORES BOXES IMAGE_WIDTH IMAGE_HEIGHT
//   SCORES, BOXES: the model's float32 outputs as raw files ([N][2] scores, [N][4] deltas); the scores are the
//   softmax probabilities of the demo's network or, for a model without its final softmax, the two logits (the
//   config says which: codegen --logits)
// prints "faces K", then one line per face, in the order NMS kept them: score x1 y1 x2 y2 anchor (pixels of the image)
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ultraface_config.h"
#include "ultrapost.h"
#include "up_host.h"

// As in the ncnn demo: corners in image pixels and the face's score.
struct FaceInfo {
    double x1, y1, x2, y2, score;
    int32_t anchor;
};

class UltraFace {
public:
    // cfg: a config with input kind UP_INPUT_F32 (from `ultrapost codegen --host`).
    UltraFace(const up_config_t *cfg, int image_w, int image_h)
        : cfg_(cfg), image_w_(image_w), image_h_(image_h), scratch_(up_scratch_size_f32(cfg)),
          boxes_(4 * static_cast<size_t>(cfg->max_detections)), scores_(cfg->max_detections),
          anchors_(cfg->max_detections)
    {
        if (up_check_config(cfg) != UP_OK || cfg->num_classes != 2 || cfg->num_labels != 0) {
            throw std::runtime_error("the config is invalid or not a two-column Ultraface config");
        }
    }

    size_t num_anchors() const { return static_cast<size_t>(cfg_->num_anchors); }

    // scores: [N][2] probabilities or logits (as the config says), boxes: [N][4] raw deltas, N = num_anchors().
    std::vector<FaceInfo> detect(const float *scores, const float *boxes)
    {
        up_output_t out = {};
        out.boxes = boxes_.data();
        out.scores = scores_.data();
        out.anchors = anchors_.data();
        out.capacity = cfg_->max_detections;
        int32_t status = up_run_f32(cfg_, scores, 2, boxes, 4, scratch_.data(), scratch_.size(), &out);
        if (status != UP_OK) {
            throw std::runtime_error("up_run_f32 failed with status " + std::to_string(status));
        }
        std::vector<FaceInfo> faces;
        for (int32_t i = 0; i < out.count; i++) {
            const int32_t *b = &boxes_[4 * i];  // Q20 corners, normalized to [0, 1] (the config clips)
            faces.push_back({b[0] / 1048576.0 * image_w_, b[1] / 1048576.0 * image_h_, b[2] / 1048576.0 * image_w_,
                             b[3] / 1048576.0 * image_h_, scores_[i] / 1073741824.0, anchors_[i]});
        }
        return faces;
    }

private:
    const up_config_t *cfg_;
    int image_w_, image_h_;
    std::vector<unsigned char> scratch_;
    std::vector<int32_t> boxes_, scores_, anchors_;
};

static std::vector<float> read_floats(const char *path, size_t n)
{
    std::vector<float> v(n);
    std::ifstream f(path, std::ios::binary);
    if (!f.read(reinterpret_cast<char *>(v.data()), static_cast<std::streamsize>(n * sizeof(float)))) {
        throw std::runtime_error(std::string("cannot read ") + std::to_string(n) + " floats from " + path);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        std::fprintf(stderr, "usage: ultraface_detect SCORES BOXES IMAGE_WIDTH IMAGE_HEIGHT\n");
        return 2;
    }
    try {
        UltraFace detector(ultraface_config_get(), std::atoi(argv[3]), std::atoi(argv[4]));
        std::vector<float> scores = read_floats(argv[1], 2 * detector.num_anchors());
        std::vector<float> boxes = read_floats(argv[2], 4 * detector.num_anchors());
        std::vector<FaceInfo> faces = detector.detect(scores.data(), boxes.data());
        std::printf("faces %zu\n", faces.size());
        for (const FaceInfo &f : faces) {
            std::printf("%.17g %.17g %.17g %.17g %.17g %d\n", f.score, f.x1, f.y1, f.x2, f.y2, (int)f.anchor);
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "ultraface_detect: %s\n", e.what());
        return 1;
    }
    return 0;
}
