// Printing of the loss modules.
#include <tapegrad/nn/loss.h>

namespace tapegrad::nn {

std::string Loss::extra_repr() const {
  switch (reduction()) {
    case Reduction::None: return "reduction=none";
    case Reduction::Sum: return "reduction=sum";
    case Reduction::Mean: break;
  }
  return "";
}

}  // namespace tapegrad::nn
