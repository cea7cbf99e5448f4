"""Neural collaborative filtering (He et al. 2017): GMF, MLP and NeuMF in torch.

module.py (forward only) · data.py (vectorized negative sampling) · loss.py (tasks) ·
train.py (thin training loop) · model.py (the ``Recommender`` wrapper).
"""
