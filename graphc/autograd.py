"""`gc.autograd`: PyTorch's torch.autograd names for eager mode."""
from graphc.eager.engine import backward, grad  # noqa: F401
from graphc.eager.function import Function, FunctionCtx  # noqa: F401
from graphc.eager.grad_mode import enable_grad, no_grad, set_grad_enabled  # noqa: F401
from graphc.eager.gradcheck import GradcheckError, gradcheck  # noqa: F401
