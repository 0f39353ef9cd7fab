// all_reduce_sum_with_grad as a custom autograd function.
#include "distributed/all_reduce_grad.h"

#include <cstdint>
#include <vector>

namespace pretext {
namespace {

class AllReduceSumWithGrad : public torch::autograd::Function<AllReduceSumWithGrad> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               Comm* comm) {
    ctx->saved_data["comm"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(comm));
    std::vector<torch::Tensor> sum = {x.detach().contiguous().clone()};
    comm->all_reduce_sum(sum);
    return sum[0];
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* comm = reinterpret_cast<Comm*>(static_cast<intptr_t>(ctx->saved_data["comm"].toInt()));
    std::vector<torch::Tensor> total = {grads[0].contiguous().clone()};
    comm->all_reduce_sum(total);
    return {total[0], torch::Tensor()};
  }
};

}  // namespace

torch::Tensor all_reduce_sum_with_grad(Comm& comm, const torch::Tensor& x) {
  if (comm.world_size() == 1) return x;
  return AllReduceSumWithGrad::apply(x, &comm);
}

}  // namespace pretext
