"""LSTM vs Bi-LSTM demo: models, training, Hub loading and the Gradio app."""
