// all_gather_with_grad as a custom autograd function.
#include "distributed/all_gather_grad.h"

#include <cstdint>

namespace pretext {
namespace {

class AllGatherWithGrad : public torch::autograd::Function<AllGatherWithGrad> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               Comm* comm) {
    auto gathered = comm->all_gather(x.contiguous());
    // Losses over the global batch pair rows by position, so every rank must hold as many.
    TORCH_CHECK(gathered.size(0) == x.size(0) * comm->world_size(),
                "all_gather_with_grad: ranks hold different batch sizes (this rank ", comm->rank(),
                ": ", x.size(0), " rows, all ranks: ", gathered.size(0),
                "); use a batch size divisible by the world size");
    ctx->saved_data["comm"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(comm));
    ctx->saved_data["offset"] = comm->rank() * x.size(0);
    ctx->saved_data["rows"] = x.size(0);
    return gathered;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* comm = reinterpret_cast<Comm*>(static_cast<intptr_t>(ctx->saved_data["comm"].toInt()));
    const int64_t offset = ctx->saved_data["offset"].toInt();
    const int64_t rows = ctx->saved_data["rows"].toInt();
    std::vector<torch::Tensor> total = {grads[0].contiguous().clone()};
    comm->all_reduce_sum(total);
    return {total[0].narrow(0, offset, rows), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor all_gather_with_grad(Comm& comm, const torch::Tensor& x) {
  TORCH_CHECK(x.dim() >= 1, "all_gather_with_grad: need a tensor with a batch dim, got ",
              x.sizes());
  if (comm.world_size() == 1) return x;
  return AllGatherWithGrad::apply(x, &comm);
}

}  // namespace pretext
