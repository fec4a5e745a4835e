// caffe-layer-types: print, as one JSON array, the layer types this Caffe
// build registers (LayerRegistry<float>::LayerTypeList(), layer_factory.hpp),
// so tests can compare the build options backprop-lint assumes with a real build.
//
// usage: caffe-layer-types
//
// It calls nothing of libcaffe itself (the registry is a header template), so
// build.sh links it with --no-as-needed: the library must load for its
// REGISTER_LAYER_CLASS initializers to fill the registry.
#include <caffe/caffe.hpp>
#include <iostream>
#include <string>
#include <vector>

int main() {
  const std::vector<std::string> types = caffe::LayerRegistry<float>::LayerTypeList();
  std::cout << "[";
  for (size_t i = 0; i < types.size(); ++i) std::cout << (i ? "," : "") << "\"" << types[i] << "\"";
  std::cout << "]" << std::endl;
  return 0;
}
