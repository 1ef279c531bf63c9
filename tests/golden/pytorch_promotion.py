# Writes the rows of tests/test_dtype_promotion.cpp's kTorchResultTypes: torch.result_type for
# every pair of tapegrad's dtypes, each operand a tensor with dims or a 0-dim tensor, and for a
# tensor with a Python int or float scalar. Run with PyTorch (1.13 made these rows):
#   python3 tests/golden/pytorch_promotion.py
import torch

DTYPES = {
    torch.bool: "kBool",
    torch.uint8: "kUInt8",
    torch.int64: "kInt64",
    torch.float32: "kFloat32",
    torch.float64: "kFloat64",
}
KINDS = {"Dims": lambda d: torch.zeros(2, dtype=d), "ZeroDim": lambda d: torch.zeros((), dtype=d)}


def main():
    print(f"// torch {torch.__version__}: {{a dtype, a kind, b dtype, b kind, torch.result_type(a, b)}}")
    for a_dtype, a_name in DTYPES.items():
        for a_kind, make_a in KINDS.items():
            for b_dtype, b_name in DTYPES.items():
                for b_kind, make_b in KINDS.items():
                    result = torch.result_type(make_a(a_dtype), make_b(b_dtype))
                    print(f"{{{a_name}, {a_kind}, {b_name}, {b_kind}, {DTYPES[result]}}},")
    print("// {a dtype, a kind, scalar, torch.result_type(a, scalar)}")
    for a_dtype, a_name in DTYPES.items():
        for a_kind, make_a in KINDS.items():
            for scalar in (2, 2.5):
                result = torch.result_type(make_a(a_dtype), scalar)
                print(f"{{{a_name}, {a_kind}, {scalar}, {DTYPES[result]}}},")


if __name__ == "__main__":
    main()
