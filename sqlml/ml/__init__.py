"""Machine learning: point-in-time training sets, training, ONNX export, registry, scoring."""
