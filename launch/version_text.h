// What `pretext --version` prints: pretext's version, the LibTorch it runs on, the CUDA, cuDNN
// and NCCL compiled in, and the GPUs this process sees.
#pragma once

#include <string>

namespace pretext {

std::string version_text();

}  // namespace pretext
