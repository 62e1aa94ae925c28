"""What runs a model's network on a batch of stored values: ONNX Runtime or torch.

Both take stored values (uint8 [N, C, S, S] images or float32 [N, F] rows) and give
{output name: numpy array} with the names of nnrun.network.predictor (probabilities,
reconstruction, reconstruction_error), because both run the same Predictor: torch directly,
ONNX Runtime as the graph the model file carries (nnrun.export.onnx_graph).
"""
import numpy as np

from nnrun.errors import UserError

class OnnxEngine:
    """ONNX Runtime on the CPU. The model file's arrays are handed to the session as the graph's
    external initializers, so the weights are read once, from the file, and never copied into
    a second model format. `record` is the file's "onnx" record, as nnrun.model_check checked
    it. threads: ONNX Runtime's intra-op threads (None: its default)."""

    name = "onnx"

    def __init__(self, record, tensors, threads=None, where="the model file"):
        import onnxruntime

        from nnrun.export.graph_check import check_graph

        graph, weights, self.outputs = record["graph"], record["weights"], record["outputs"]
        check_graph(graph, weights, where)  # the graph's own contents: before ONNX Runtime reads it
        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        names = list(weights)
        # ONNX Runtime reads these buffers for as long as the session lives: keep them with it.
        self._arrays = [np.ascontiguousarray(tensors[weights[name]]) for name in names]
        try:
            self._values = [onnxruntime.OrtValue.ortvalue_from_numpy(a) for a in self._arrays]
            options.add_external_initializers(names, self._values)
            self.session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        except Exception as problem:  # onnxruntime's own exception types, for a graph it cannot take
            first = (str(problem).strip().splitlines() or [type(problem).__name__])[0][:300]
            raise UserError(f"{where}: ONNX Runtime cannot load its graph ({first})") from None
        if [o.name for o in self.session.get_outputs()] != self.outputs:
            raise UserError(f"{where}: its ONNX graph's outputs are not {', '.join(self.outputs)}")

    def run(self, stored):
        values = self.session.run(self.outputs, {"input": np.ascontiguousarray(stored)})
        return dict(zip(self.outputs, values))


class TorchEngine:
    """The model file's network as torch modules, on the CPU or a GPU: any layer, any device."""

    name = "torch"

    def __init__(self, payload, preprocessing, device):
        import torch

        from nnrun.model_io import network_from_payload
        from nnrun.network.predictor import Predictor

        self.torch, self.device = torch, device
        network = network_from_payload(payload, device)
        self.predictor = Predictor(network, preprocessing, len(payload["classes"])).to(device).eval()
        self.outputs = network.plan.inference_outputs

    def run(self, stored):
        torch = self.torch
        stored = np.ascontiguousarray(stored)
        if not stored.flags.writeable:  # a memory-mapped split: torch wants memory it may write
            stored = stored.copy()
        with torch.inference_mode():
            values = self.predictor(torch.from_numpy(stored).to(self.device, non_blocking=True))
            return {name: value.float().cpu().numpy() for name, value in zip(self.outputs, values)}
