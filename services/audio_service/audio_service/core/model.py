"""Keras CNN: log-mel patch ``(N_MELS, PATCH_FRAMES)`` → 128-d L2-normalised embedding.

Five conv blocks (3x3, batch norm, ReLU, max-pool) then global average + max pooling over the
remaining frequency × time grid, a 256-unit dense layer and a linear 128-d projection followed by
``UnitNormalization``. Only standard layers, so ``model.keras`` loads without custom objects.
"""

from __future__ import annotations

from typing import Any

from audio_service.core.features import N_MELS, PATCH_FRAMES

EMBED_DIM = 128


def build_embedding_model(embed_dim: int = EMBED_DIM, width: int = 24) -> Any:
    """Embedding model: input ``(batch, N_MELS, PATCH_FRAMES)`` → output ``(batch, embed_dim)``, unit norm."""
    import keras
    from keras import layers

    inp = keras.Input(shape=(N_MELS, PATCH_FRAMES), name="logmel")
    x = layers.Reshape((N_MELS, PATCH_FRAMES, 1))(inp)
    for i, mult in enumerate((1, 2, 4, 6, 8)):
        x = layers.Conv2D(width * mult, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU()(x)
        if i < 4:
            x = layers.MaxPooling2D(2)(x)  # 96x128 → 6x8 after four pools
    x = layers.Concatenate()([layers.GlobalAveragePooling2D()(x), layers.GlobalMaxPooling2D()(x)])
    x = layers.Dense(256, activation="relu", name="fc")(x)
    x = layers.Dense(embed_dim, name="proj")(x)
    out = layers.UnitNormalization(name="l2")(x)
    return keras.Model(inp, out, name="patch_embedder")


def build_training_model(embedder: Any, n_classes: int) -> Any:
    """Wraps ``embedder`` with a collection classifier head: returns ``(embedding, logits)``."""
    import keras
    from keras import layers

    inp = keras.Input(shape=(N_MELS, PATCH_FRAMES))
    emb = embedder(inp)
    logits = layers.Dense(n_classes, name="collection")(emb)
    return keras.Model(inp, [emb, logits], name="trainer")
