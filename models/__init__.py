"""The ML half: a breed classifier and a class-conditional TinyDiT trained with flow matching on
Oxford-IIIT Pet (12 cat breeds + "other"), with Modal GPU functions and a command line.

Modules (each imported on its own; importing `models` loads no torch):
    pets        Oxford-IIIT Pet as files: breeds, the layout's reader, decoding, the synthetic
                generator (numpy and Pillow: no torch)
    data        the dataset as tensors: splits in memory, augmentation, the drift exposure map
    dit         TinyDiT (adaLN-Zero or shared modulation) and its presets
    flow        flow-matching loss and the Euler / Heun samplers with CFG
    classifier  the small CNN breed classifier
    checkpoint  checkpoint files and load_classifier / load_dit
    train       the one training mechanism and train_classifier / train_dit
    evaluate    offline metrics and reports
    export      ONNX and safetensors export
    modal_app   Modal GPU functions (run in-process by default)
    serve       the model server (FastAPI, onnxruntime; no torch), with loadgen and drift
    errors      user-facing errors
"""
