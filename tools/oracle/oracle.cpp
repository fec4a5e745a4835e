// caffe-oracle: load a net with real Caffe and print, as JSON, what Caffe
// decided about backward.
//
// usage: caffe-oracle NET.prototxt [TRAIN|TEST] [--level N] [--stage S]...
//                     [--run] [--seed BLOB]... [--label BLOB]...
//                     [--start LAYER] [--end LAYER] [--fill-zero-weights]
//
// --fill-zero-weights: before the run, every parameter blob with two or more
// axes (a weight matrix or kernel) that is all zero -- a layer left with
// Caffe's default constant-0 filler, as in most deploy nets -- gets gaussian
// values with std 1/sqrt(fan-in), like trained weights, so that a zero diff
// below it means "no gradient reached here" rather than "multiplied by zero".
//
// Output, on stdout:
//   line 1 (always, flushed before anything runs): the structure
//     {"layers":[{name,type,bottoms,tops,need_backward,bottom_need_backward,
//                 param_propagate_down,loss}...],"blobs":[...],
//      "inputs":[...],"outputs":[...]}
//   line 2 (with --run): what one Forward() + one backward pass did
//     {"blob_diff_nonzero":{blob:bool},"param_diff_nonzero":{layer:[bool]},
//      "seeded":[blob...],"backward_from_to":[start_index,end_index]}
// Before Forward and before the backward pass a marker line
// ("caffe-oracle: running Forward" / "... Backward") goes to stderr, so a
// caller can tell a refusal at load time from a crash during the run.
//
// When Caffe refuses the net it dies in a glog FATAL/CHECK (SIGABRT) with its
// message on stderr. Bad command-line arguments exit with status 2; a --seed,
// --label, --start or --end naming nothing in the net exits with status 3.
#include <caffe/caffe.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace caffe;

namespace {

const int kUsageError = 2;
const int kUnknownName = 3;

struct Options {
  std::string net_path;
  Phase phase = TRAIN;
  int level = 0;
  std::vector<std::string> stages;
  bool run = false;
  std::vector<std::string> seeds;
  std::vector<std::string> labels;
  std::string start_layer;
  std::string end_layer;
  bool fill_zero_weights = false;
};

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string boolean(bool v) { return v ? "true" : "false"; }

bool any_nonzero(const float* p, int n) {
  for (int i = 0; i < n; ++i)
    if (p[i] != 0.f) return true;
  return false;
}

[[noreturn]] void fail(int status, const std::string& message) {
  std::cerr << "caffe-oracle: " << message << std::endl;
  std::exit(status);
}

Options parse_options(int argc, char** argv) {
  if (argc < 2) fail(kUsageError, "usage: caffe-oracle NET [TRAIN|TEST] [--level N] [--stage S]... [--run] "
                                  "[--seed BLOB]... [--label BLOB]... [--start LAYER] [--end LAYER] "
                                  "[--fill-zero-weights]");
  Options opt;
  opt.net_path = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "TRAIN") opt.phase = TRAIN;
    else if (a == "TEST") opt.phase = TEST;
    else if (a == "--run") opt.run = true;
    else if (a == "--fill-zero-weights") opt.fill_zero_weights = true;
    else if (a == "--level" && has_value) opt.level = std::atoi(argv[++i]);
    else if (a == "--stage" && has_value) opt.stages.push_back(argv[++i]);
    else if (a == "--seed" && has_value) opt.seeds.push_back(argv[++i]);
    else if (a == "--label" && has_value) opt.labels.push_back(argv[++i]);
    else if (a == "--start" && has_value) opt.start_layer = argv[++i];
    else if (a == "--end" && has_value) opt.end_layer = argv[++i];
    else fail(kUsageError, "unknown or incomplete argument '" + a + "'");
  }
  return opt;
}

int blob_index(const Net<float>& net, const std::string& name, const char* option) {
  const auto& names = net.blob_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<int>(i);
  fail(kUnknownName, std::string("unknown blob '") + name + "' given to " + option);
}

// Like pycaffe's Net.backward(start=..., end=...): the first layer with that name.
int layer_index(const Net<float>& net, const std::string& name, const char* option) {
  const auto& names = net.layer_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<int>(i);
  fail(kUnknownName, std::string("unknown layer '") + name + "' given to " + option);
}

std::string structure_json(const Net<float>& net) {
  const auto& names = net.layer_names();
  const auto& blob_names = net.blob_names();
  std::ostringstream out;
  out << "{\"layers\":[";
  for (size_t i = 0; i < names.size(); ++i) {
    Layer<float>& layer = *net.layers()[i];  // Caffe's accessors are not const
    const auto& bottoms = net.bottom_ids(static_cast<int>(i));
    const auto& tops = net.top_ids(static_cast<int>(i));
    if (i) out << ",";
    out << "{\"name\":" << quoted(names[i]) << ",\"type\":" << quoted(layer.type());
    out << ",\"bottoms\":[";
    for (size_t j = 0; j < bottoms.size(); ++j) out << (j ? "," : "") << quoted(blob_names[bottoms[j]]);
    out << "],\"tops\":[";
    for (size_t j = 0; j < tops.size(); ++j) out << (j ? "," : "") << quoted(blob_names[tops[j]]);
    out << "],\"need_backward\":" << boolean(net.layer_need_backward()[i]);
    out << ",\"bottom_need_backward\":[";
    const auto& flags = net.bottom_need_backward()[i];
    for (size_t j = 0; j < flags.size(); ++j) out << (j ? "," : "") << boolean(flags[j]);
    out << "],\"param_propagate_down\":[";
    for (size_t j = 0; j < layer.blobs().size(); ++j)
      out << (j ? "," : "") << boolean(layer.param_propagate_down(static_cast<int>(j)));
    out << "],\"loss\":[";
    for (size_t j = 0; j < tops.size(); ++j) out << (j ? "," : "") << layer.loss(static_cast<int>(j));
    out << "]}";
  }
  out << "],\"blobs\":[";
  for (size_t i = 0; i < blob_names.size(); ++i) out << (i ? "," : "") << quoted(blob_names[i]);
  out << "],\"inputs\":[";
  for (size_t i = 0; i < net.input_blob_indices().size(); ++i)
    out << (i ? "," : "") << quoted(blob_names[net.input_blob_indices()[i]]);
  out << "],\"outputs\":[";
  for (size_t i = 0; i < net.output_blob_indices().size(); ++i)
    out << (i ? "," : "") << quoted(blob_names[net.output_blob_indices()[i]]);
  out << "]}";
  return out.str();
}

bool is_label(const std::string& blob, const Options& opt) {
  if (blob.rfind("label", 0) == 0) return true;
  for (const auto& name : opt.labels)
    if (name == blob) return true;
  return false;
}

// Random inputs; label blobs get 0/1 so that losses accept them as class indices.
void fill_inputs(Net<float>& net, const Options& opt, std::mt19937& rng) {
  std::normal_distribution<float> gauss(0.f, 1.f);
  for (int idx : net.input_blob_indices()) {
    Blob<float>& blob = *net.blobs()[idx];
    float* data = blob.mutable_cpu_data();
    bool label = is_label(net.blob_names()[idx], opt);
    for (int k = 0; k < blob.count(); ++k) data[k] = label ? static_cast<float>(k % 2) : gauss(rng);
  }
}

void fill_zero_weights(Net<float>& net, std::mt19937& rng) {
  for (const auto& layer : net.layers()) {
    for (const auto& param : layer->blobs()) {
      if (param->num_axes() < 2 || param->count() == 0 || any_nonzero(param->cpu_data(), param->count())) continue;
      int fan_in = param->count() / param->shape(0);
      std::normal_distribution<float> gauss(0.f, 1.f / std::sqrt(static_cast<float>(fan_in > 0 ? fan_in : 1)));
      float* data = param->mutable_cpu_data();
      for (int k = 0; k < param->count(); ++k) data[k] = gauss(rng);
    }
  }
}

// The blobs whose diff is seeded: those named by --seed; without any, every
// output of a net with no loss, as a user calling backward on a deploy net would.
std::vector<int> seed_blobs(const Net<float>& net, const Options& opt) {
  std::vector<int> seeds;
  for (const auto& name : opt.seeds) seeds.push_back(blob_index(net, name, "--seed"));
  if (!opt.seeds.empty()) return seeds;
  for (float weight : net.blob_loss_weights())
    if (weight != 0) return seeds;
  return net.output_blob_indices();
}

std::string run_json(Net<float>& net, const Options& opt, const std::vector<int>& seeds, int start, int end) {
  std::mt19937 rng(1234);
  std::normal_distribution<float> gauss(0.f, 1.f);
  if (opt.fill_zero_weights) fill_zero_weights(net, rng);
  fill_inputs(net, opt, rng);
  std::cerr << "caffe-oracle: running Forward" << std::endl;
  net.Forward();
  for (int idx : seeds) {
    Blob<float>& blob = *net.blobs()[idx];
    float* diff = blob.mutable_cpu_diff();
    for (int k = 0; k < blob.count(); ++k) diff[k] = gauss(rng);
  }
  std::cerr << "caffe-oracle: running Backward" << std::endl;
  net.BackwardFromTo(start, end);

  const auto& names = net.layer_names();
  const auto& blob_names = net.blob_names();
  std::ostringstream out;
  out << "{\"blob_diff_nonzero\":{";
  for (size_t i = 0; i < blob_names.size(); ++i) {
    const Blob<float>& blob = *net.blobs()[i];
    out << (i ? "," : "") << quoted(blob_names[i]) << ":" << boolean(any_nonzero(blob.cpu_diff(), blob.count()));
  }
  out << "},\"param_diff_nonzero\":{";
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& params = net.layers()[i]->blobs();
    if (params.empty()) continue;
    out << (first ? "" : ",") << quoted(names[i]) << ":[";
    first = false;
    for (size_t j = 0; j < params.size(); ++j)
      out << (j ? "," : "") << boolean(any_nonzero(params[j]->cpu_diff(), params[j]->count()));
    out << "]";
  }
  out << "},\"seeded\":[";
  for (size_t i = 0; i < seeds.size(); ++i) out << (i ? "," : "") << quoted(blob_names[seeds[i]]);
  out << "],\"backward_from_to\":[" << start << "," << end << "]}";
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse_options(argc, argv);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = 1;
  FLAGS_minloglevel = 2;  // errors and fatals only
  Caffe::set_mode(Caffe::CPU);
  Caffe::set_random_seed(1701);  // fillers and Dropout masks: the same measurement on every run

  Net<float> net(opt.net_path, opt.phase, opt.level, &opt.stages);
  // Resolve every name before printing anything, so a typo is not mistaken for a crash.
  std::vector<int> seeds = seed_blobs(net, opt);
  for (const auto& name : opt.labels) blob_index(net, name, "--label");
  int start = static_cast<int>(net.layers().size()) - 1;
  int end = 0;
  if (!opt.start_layer.empty()) start = layer_index(net, opt.start_layer, "--start");
  if (!opt.end_layer.empty()) end = layer_index(net, opt.end_layer, "--end");

  std::cout << structure_json(net) << std::endl;  // endl flushes: line 1 survives a crash below
  if (opt.run) std::cout << run_json(net, opt, seeds, start, end) << std::endl;
  return 0;
}
