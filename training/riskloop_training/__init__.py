"""riskloop's model training: shared by the bootstrap model script and the trainer (training/train.py).

Modules, one concept each:
  onnx_export  LightGBM -> ONNX with the metadata the scorer reads, and the ONNX/booster parity check
  reference    reference values and distributions written into model cards (explanations, drift)
  examples     reading TrainingExample JSONL, corrections, the feature matrix
  split        the time-based train / gap / test split
  metrics      AUC ROC, average precision, card precision@k per day, alert-rate thresholds
  parent       scoring the test period with the model being replaced
  model_card   the model card, as JSON (machine) and Markdown (people)
"""
