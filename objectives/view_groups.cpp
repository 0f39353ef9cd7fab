// Regrouping multi-crop views by size.
#include "objectives/view_groups.h"

namespace pretext {

std::vector<torch::Tensor> concat_size_groups(const std::vector<torch::Tensor>& views,
                                              size_t count) {
  TORCH_CHECK(count <= views.size(), "concat_size_groups: asked for ", count, " views of ",
              views.size());
  std::vector<torch::Tensor> groups;
  size_t start = 0;
  while (start < count) {
    size_t end = start + 1;
    while (end < count && views[end].sizes() == views[start].sizes()) ++end;
    groups.push_back(
        torch::cat(std::vector<torch::Tensor>(views.begin() + static_cast<std::ptrdiff_t>(start),
                                              views.begin() + static_cast<std::ptrdiff_t>(end))));
    start = end;
  }
  return groups;
}

}  // namespace pretext
