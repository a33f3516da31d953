"""Conditional generative models of normalised formulations.

The three families model ``p(z | c)``: a design ``z ∈ [-1, 1]^dim`` in a carrier's default
design space (the carrier family picks the model and the space; the drug enters through
its descriptors in ``c``) given the 81-float conditioning vector ``c`` of a target
(:meth:`nanoenv.targets.TargetBatch.condition_vector`: target curve, medium pH and
temperature on the grid, horizon, drug and patient descriptors). All embed ``c`` with the
same small MLP, all return samples inside ``[-1, 1]`` by construction (``tanh``), and all
share the :class:`GenerativePrior` interface (``loss``, ``optimizers``, ``train_step``,
``sample``, ``save``/``load``).

:class:`ConditionalVAE`
    Kingma & Welling (2014), Sohn et al. (2015): encoder ``q(w | z, c)``, decoder mean
    ``tanh(g(w, c))``, Gaussian likelihood with a fixed scale ``sigma`` (a β-VAE with
    ``β = 2σ²``); samples decode ``w ~ N(0, temperature² I)``.

:class:`ConditionalFlow`
    A conditional RealNVP (Dinh et al. 2017) of affine coupling layers on
    ``u = atanh(z)``; samples are ``tanh(f⁻¹(ε; c))``. Chosen as the second family over a
    conditional GAN or a diffusion model because (i) it is trained by exact maximum
    likelihood, so it cannot mode-collapse — important for an inverse problem where many
    formulations give the same curve and the screen needs diverse candidates — and has no
    adversarial training to tune; (ii) sampling is one network pass (a diffusion model
    needs tens of denoising steps per sample), which keeps sample-and-screen cheap; (iii)
    the design has only 9–11 dimensions, where coupling flows are accurate and small.
    Conditional invertible networks are the usual flow choice for inverse design
    (Ardizzone et al., "Analyzing inverse problems with invertible neural networks", 2019).

:class:`ConditionalGAN`
    A conditional Wasserstein GAN with gradient penalty (WGAN-GP: Gulrajani et al.,
    "Improved training of Wasserstein GANs", NeurIPS 2017; conditioning as in Mirza &
    Osindero, "Conditional generative adversarial nets", 2014): generator
    ``z = tanh(G(w, c))`` with ``w ~ N(0, I)``; critic ``D(z, c)`` with its own condition
    embedding, a projection term (Miyato & Koyama, "cGANs with projection discriminator",
    ICLR 2018) and no normalisation layers (the penalty is per sample), trained
    ``n_critic`` times per generator step on
    ``E D(fake) − E D(real) + λ E (‖∇_ẑ D(ẑ, c)‖ − 1)²`` at random interpolates ``ẑ`` of
    real and generated designs under the same condition. The third family the issue asks
    for (the seed names VAEs and GANs); it has no likelihood, so its ``loss`` is the
    critic's Wasserstein estimate ``E D(real) − E D(fake)``, which Gulrajani et al. show
    tracks sample quality. Adversarial training makes it the slowest of the three to fit:
    on the CPU budget of the shipped weights it trails the cVAE and the flow (README).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nanoenv.envs.problem import CONDITION_SIZE
from nanoenv.files import atomic_open

__all__ = [
    "ConditionalFlow",
    "ConditionalGAN",
    "ConditionalVAE",
    "GenerativePrior",
    "build_prior",
    "load_prior",
]

_EDGE = 0.999  # z is clipped to ±_EDGE before atanh (u within ±3.8)


def _mlp(sizes: list[int], last_act: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_act:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class GenerativePrior(nn.Module):
    """Shared parts: the condition embedding, metadata, sampling and (de)serialisation.

    :param dim: design dimension (free parameters of the carrier's default space).
    :param carrier: ``"polymer"`` or ``"liposome"`` (which design space ``z`` lives in).
    :param cond_hidden: width of the condition embedding.
    """

    kind = "base"

    def __init__(self, dim: int, carrier: str = "polymer", cond_hidden: int = 128) -> None:
        super().__init__()
        if dim < 2:
            raise ValueError(f"dim={dim} must be at least 2 design coordinates")
        self.dim = int(dim)
        self.carrier = str(carrier)
        self.cond_hidden = int(cond_hidden)
        #: free-form provenance (training settings) stored with the weights
        self.meta: dict[str, Any] = {}
        self.embed = _mlp([CONDITION_SIZE, cond_hidden, cond_hidden], last_act=True)

    def config(self) -> dict[str, Any]:
        """Constructor arguments (stored with the weights)."""
        return {"dim": self.dim, "carrier": self.carrier, "cond_hidden": self.cond_hidden}

    def _check(self, cond: torch.Tensor, z: torch.Tensor | None = None) -> None:
        if cond.dim() != 2 or cond.shape[1] != CONDITION_SIZE:
            raise ValueError(
                f"cond must have shape (n, {CONDITION_SIZE}) (TargetBatch.condition_vector()); got "
                f"{tuple(cond.shape)}"
            )
        if z is not None and (z.dim() != 2 or z.shape != (cond.shape[0], self.dim)):
            raise ValueError(
                f"designs must have shape ({cond.shape[0]}, {self.dim}); got {tuple(z.shape)}"
            )

    def loss(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Mean training loss (negative ELBO or negative log-likelihood) per pair."""
        raise NotImplementedError

    def optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        """The optimisers :meth:`train_step` takes (one Adam over all weights)."""
        return [torch.optim.Adam(self.parameters(), lr=lr)]

    def train_step(
        self, z: torch.Tensor, cond: torch.Tensor, optimizers: list[torch.optim.Optimizer]
    ) -> float:
        """One update on a minibatch of pairs; returns the minibatch's training loss
        (:meth:`loss`, gradient norm clipped to 5)."""
        (opt,) = optimizers
        loss = self.loss(z, cond)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parameters(), 5.0)
        opt.step()
        return float(loss.detach())

    def _sample(self, c: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @property
    def noise_dim(self) -> int:
        """Dimension of the standard normal noise one sample needs."""
        raise NotImplementedError

    @torch.no_grad()
    def sample(
        self,
        cond: torch.Tensor,
        m: int,
        *,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(n, m, dim)`` designs in ``[-1, 1]``: ``m`` samples for each of ``n`` conditions.

        :param cond: ``(n, CONDITION_SIZE)`` conditions.
        :param m: samples per condition.
        :param generator: CPU generator of the noise.
        :param temperature: scale of the base noise (``< 1`` concentrates on the modes).
        :param noise: ``(n, m, noise_dim)`` standard normal noise to use instead.
        """
        self._check(cond)
        if m < 1:
            raise ValueError(f"m={m} must be a positive number of samples")
        n = cond.shape[0]
        device = next(self.parameters()).device
        if noise is None:
            noise = torch.randn(n, m, self.noise_dim, generator=generator)
        noise = noise.to(device=device, dtype=torch.float32) * float(temperature)
        c = self.embed(cond.to(device=device, dtype=torch.float32))
        c = c.repeat_interleave(m, dim=0)
        z = self._sample(c, noise.reshape(n * m, self.noise_dim))
        return z.reshape(n, m, self.dim).clamp(-1.0, 1.0)

    def save(self, path: str | os.PathLike[str], *, half: bool = False, **meta: Any) -> Path:
        """Write the weights, the constructor arguments and ``meta`` to ``path`` (atomic).

        :param half: store the weights as float16 (half the file size; loaded as float32).
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            k: (v.half() if half and v.is_floating_point() else v).cpu()
            for k, v in self.state_dict().items()
        }
        with atomic_open(path, "wb") as handle:
            torch.save(
                {"kind": self.kind, "config": self.config(), "state": state, "meta": meta}, handle
            )
        return path


class ConditionalVAE(GenerativePrior):
    """Conditional VAE over normalised designs (see the module docstring).

    :param dim: design dimension.
    :param latent: latent dimension.
    :param hidden: width of the encoder and decoder MLPs (two hidden layers each).
    :param sigma: fixed scale of the Gaussian likelihood of ``z`` (normalised units).
    :param carrier: carrier family of the design space.
    :param cond_hidden: width of the condition embedding.
    """

    kind = "cvae"

    def __init__(
        self,
        dim: int,
        latent: int = 8,
        hidden: int = 192,
        sigma: float = 0.1,
        carrier: str = "polymer",
        cond_hidden: int = 128,
    ) -> None:
        super().__init__(dim, carrier, cond_hidden)
        if not sigma > 0:
            raise ValueError(f"sigma={sigma} must be positive (normalised design units)")
        self.latent = int(latent)
        self.hidden = int(hidden)
        self.sigma = float(sigma)
        self.encoder = _mlp([dim + cond_hidden, hidden, hidden, 2 * latent])
        self.decoder = _mlp([latent + cond_hidden, hidden, hidden, dim])

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "latent": self.latent,
            "hidden": self.hidden,
            "sigma": self.sigma,
        }

    @property
    def noise_dim(self) -> int:
        return self.latent

    def decode(self, w: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Decoder mean in ``[-1, 1]`` for latents ``w`` and embedded conditions ``c``."""
        return torch.tanh(self.decoder(torch.cat([w, c], dim=1)))

    def loss(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Negative ELBO per pair (``Σ (z − ẑ)²/2σ² + KL(q(w|z,c) ‖ N(0, I))``)."""
        self._check(cond, z)
        c = self.embed(cond)
        mu, logvar = self.encoder(torch.cat([z, c], dim=1)).chunk(2, dim=1)
        logvar = logvar.clamp(-12.0, 6.0)
        w = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        recon = ((z - self.decode(w, c)) ** 2).sum(1) / (2 * self.sigma**2)
        kl = 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar).sum(1)
        return (recon + kl).mean()

    def _sample(self, c: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.decode(noise, c)


class _Coupling(nn.Module):
    """Affine coupling: the unmasked coordinates are scaled and shifted by functions of
    the masked ones and the condition."""

    def __init__(self, mask: torch.Tensor, cond_hidden: int, hidden: int) -> None:
        super().__init__()
        self.register_buffer("mask", mask)
        dim = mask.numel()
        self.net = _mlp([dim + cond_hidden, hidden, hidden, 2 * dim])
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def _st(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self.net(torch.cat([x * self.mask, c], dim=1)).chunk(2, dim=1)
        s = 2.0 * torch.tanh(s / 2.0) * (1 - self.mask)
        return s, t * (1 - self.mask)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Data → noise direction; returns ``(y, log|det J|)``."""
        s, t = self._st(x, c)
        return x * torch.exp(s) + t, s.sum(1)

    def inverse(self, y: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        s, t = self._st(y, c)
        return (y - t) * torch.exp(-s)


class ConditionalFlow(GenerativePrior):
    """Conditional RealNVP on ``u = atanh(z)`` (see the module docstring for why a flow).

    :param dim: design dimension.
    :param layers: affine coupling layers (masks alternate and are shuffled).
    :param hidden: width of each coupling network (two hidden layers).
    :param carrier: carrier family of the design space.
    :param cond_hidden: width of the condition embedding.
    """

    kind = "flow"

    def __init__(
        self,
        dim: int,
        layers: int = 6,
        hidden: int = 128,
        carrier: str = "polymer",
        cond_hidden: int = 128,
    ) -> None:
        super().__init__(dim, carrier, cond_hidden)
        if layers < 2:
            raise ValueError(f"layers={layers} must be at least 2 coupling layers")
        self.layers = int(layers)
        self.hidden = int(hidden)
        gen = torch.Generator().manual_seed(1234)  # fixed masks, the same on every load
        masks = []
        for i in range(layers):
            if i % 2 == 0:
                perm = torch.randperm(dim, generator=gen)
                mask = torch.zeros(dim)
                mask[perm[: dim // 2]] = 1.0
            else:
                mask = 1.0 - masks[-1]
            masks.append(mask)
        self.couplings = nn.ModuleList(_Coupling(m, cond_hidden, hidden) for m in masks)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "layers": self.layers, "hidden": self.hidden}

    @property
    def noise_dim(self) -> int:
        return self.dim

    def log_prob(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``(n,)`` log-density of ``u = atanh(z)`` given the conditions (nats)."""
        self._check(cond, z)
        c = self.embed(cond)
        x = torch.atanh(z.clamp(-_EDGE, _EDGE))
        logdet = torch.zeros(z.shape[0], device=z.device)
        for layer in self.couplings:
            x, ld = layer(x, c)
            logdet = logdet + ld
        base = -0.5 * (x**2).sum(1) - 0.5 * self.dim * math.log(2 * math.pi)
        return base + logdet

    def loss(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood per pair (nats, in ``u`` space)."""
        return -self.log_prob(z, cond).mean()

    def _sample(self, c: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x = noise
        for layer in reversed(self.couplings):
            x = layer.inverse(x, c)
        return torch.tanh(x)


class ConditionalGAN(GenerativePrior):
    """Conditional WGAN-GP over normalised designs (see the module docstring).

    :param dim: design dimension.
    :param latent: dimension of the generator's noise ``w``.
    :param hidden: width of the generator and critic MLPs (two hidden layers each).
    :param n_critic: critic updates per generator update (5, as Gulrajani et al.; for the
        shipped polymer GAN 5 scored above 3 and 8 on the realisable bench).
    :param gp_weight: weight ``λ`` of the gradient penalty (10 in Gulrajani et al.).
    :param carrier: carrier family of the design space.
    :param cond_hidden: width of the condition embeddings (generator and critic).
    :param mode_seeking: weight ``λ_ms`` of the mode-seeking term added to the generator's
        loss (Mao et al., "Mode seeking generative adversarial networks for diverse image
        synthesis", CVPR 2019): ``λ_ms / (mean|G(w₁, c) − G(w₂, c)| / mean|w₁ − w₂| + 10⁻⁵)``
        for two noise draws per condition; it pushes apart designs generated for the same
        target, against mode collapse (0: plain WGAN-GP).
    :param betas: Adam's ``(β₁, β₂)`` for both networks (``(0.5, 0.9)``: the WGAN-GP
        reference code's low-dimensional experiments; ``(0.0, 0.9)``: its paper's).
    """

    kind = "gan"

    def __init__(
        self,
        dim: int,
        latent: int = 16,
        hidden: int = 192,
        n_critic: int = 5,
        gp_weight: float = 10.0,
        carrier: str = "polymer",
        cond_hidden: int = 128,
        mode_seeking: float = 0.0,
        betas: tuple[float, float] = (0.5, 0.9),
    ) -> None:
        super().__init__(dim, carrier, cond_hidden)
        if not mode_seeking >= 0:
            raise ValueError(f"mode_seeking={mode_seeking} must be >= 0 (loss weight)")
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas={tuple(betas)} must be two Adam decay rates in [0, 1)")
        if latent < 1:
            raise ValueError(f"latent={latent} must be a positive noise dimension")
        if n_critic < 1:
            raise ValueError(f"n_critic={n_critic} must be a positive number of critic updates")
        if not gp_weight >= 0:
            raise ValueError(f"gp_weight={gp_weight} must be >= 0 (penalty weight)")
        self.latent = int(latent)
        self.hidden = int(hidden)
        self.n_critic = int(n_critic)
        self.gp_weight = float(gp_weight)
        self.mode_seeking = float(mode_seeking)
        self.betas = (float(betas[0]), float(betas[1]))
        self.generator = _mlp([latent + cond_hidden, hidden, hidden, dim])
        self.critic_embed = _mlp([CONDITION_SIZE, cond_hidden, cond_hidden], last_act=True)
        self.critic = _mlp([dim + cond_hidden, hidden, hidden], last_act=True)
        self.critic_head = nn.Linear(hidden, 1)
        self.critic_projection = nn.Linear(cond_hidden, hidden, bias=False)
        self._critic_updates = 0

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "latent": self.latent,
            "hidden": self.hidden,
            "n_critic": self.n_critic,
            "gp_weight": self.gp_weight,
            "mode_seeking": self.mode_seeking,
            "betas": list(self.betas),
        }

    @property
    def noise_dim(self) -> int:
        return self.latent

    def _sample(self, c: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.generator(torch.cat([noise, c], dim=1)))

    def generate(self, cond: torch.Tensor) -> torch.Tensor:
        """One design per condition with fresh noise (differentiable; training use)."""
        c = self.embed(cond)
        noise = torch.randn(cond.shape[0], self.latent, device=cond.device)
        return self._sample(c, noise)

    def score(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``(n,)`` critic values ``D(z, c) = ψ(h) + ⟨P e(c), h⟩``, ``h = φ(z, e(c))``
        (higher: more like the training pairs)."""
        e = self.critic_embed(cond)
        h = self.critic(torch.cat([z, e], dim=1))
        return self.critic_head(h).squeeze(1) + (self.critic_projection(e) * h).sum(1)

    def gradient_penalty(
        self, real: torch.Tensor, fake: torch.Tensor, cond: torch.Tensor
    ) -> torch.Tensor:
        """``E (‖∇_ẑ D(ẑ, c)‖₂ − 1)²`` at ``ẑ = ε real + (1 − ε) fake``, ``ε ~ U(0, 1)``."""
        eps = torch.rand(real.shape[0], 1, device=real.device)
        mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.score(mix, cond).sum(), mix, create_graph=True)
        return ((grad.norm(dim=1) - 1.0) ** 2).mean()

    def loss(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The critic's Wasserstein estimate ``E D(real) − E D(fake)`` on the pairs (lower:
        generated designs harder to tell from the training designs)."""
        self._check(cond, z)
        return self.score(z, cond).mean() - self.score(self.generate(cond), cond).mean()

    def optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        """``[generator Adam, critic Adam]`` with the model's ``betas``."""
        self._critic_updates = 0
        gen = [*self.embed.parameters(), *self.generator.parameters()]
        critic = [p for name, p in self.named_parameters() if name.startswith("critic")]
        return [
            torch.optim.Adam(gen, lr=lr, betas=self.betas),
            torch.optim.Adam(critic, lr=lr, betas=self.betas),
        ]

    def train_step(
        self, z: torch.Tensor, cond: torch.Tensor, optimizers: list[torch.optim.Optimizer]
    ) -> float:
        """One critic update on the minibatch and, every ``n_critic``-th call from the
        first, one generator update on its conditions; returns the critic's Wasserstein
        estimate before the update."""
        self._check(cond, z)
        opt_g, opt_d = optimizers
        with torch.no_grad():
            fake = self.generate(cond)
        d_real, d_fake = self.score(z, cond).mean(), self.score(fake, cond).mean()
        loss_d = d_fake - d_real + self.gp_weight * self.gradient_penalty(z, fake, cond)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        self._critic_updates += 1
        if (self._critic_updates - 1) % self.n_critic == 0:  # the first call updates both
            critic = opt_d.param_groups[0]["params"]
            for p in critic:  # no critic gradients from the generator's loss
                p.requires_grad_(False)
            if self.mode_seeking > 0:
                loss_g = self._generator_loss_mode_seeking(cond)
            else:
                loss_g = -self.score(self.generate(cond), cond).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            for p in critic:
                p.requires_grad_(True)
        return float((d_real - d_fake).detach())

    def _generator_loss_mode_seeking(self, cond: torch.Tensor) -> torch.Tensor:
        """``−E D(G(w, c), c)`` over two noise draws per condition plus the mode-seeking
        term ``λ_ms / (mean|G(w₁, c) − G(w₂, c)| / mean|w₁ − w₂| + 10⁻⁵)``."""
        c = self.embed(cond)
        w1 = torch.randn(cond.shape[0], self.latent, device=cond.device)
        w2 = torch.randn(cond.shape[0], self.latent, device=cond.device)
        g1, g2 = self._sample(c, w1), self._sample(c, w2)
        adv = -0.5 * (self.score(g1, cond).mean() + self.score(g2, cond).mean())
        ratio = (g1 - g2).abs().mean() / (w1 - w2).abs().mean()
        return adv + self.mode_seeking / (ratio + 1e-5)


_KINDS: dict[str, type[GenerativePrior]] = {
    "cvae": ConditionalVAE,
    "flow": ConditionalFlow,
    "gan": ConditionalGAN,
}


def build_prior(kind: str, dim: int, carrier: str = "polymer", **kwargs: Any) -> GenerativePrior:
    """A new, untrained prior of ``kind`` (``"cvae"``, ``"flow"`` or ``"gan"``)."""
    if kind not in _KINDS:
        raise ValueError(f"kind={kind!r}; allowed: {sorted(_KINDS)}")
    return _KINDS[kind](dim=dim, carrier=carrier, **kwargs)


def load_prior(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> GenerativePrior:
    """A prior saved with :meth:`GenerativePrior.save` (float32, eval mode, on ``device``)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"prior weights file {str(path)!r} does not exist")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = build_prior(blob["kind"], **blob["config"])
    model.load_state_dict(
        {k: v.float() if v.is_floating_point() else v for k, v in blob["state"].items()}
    )
    model.meta = dict(blob.get("meta", {}))
    return model.to(device).eval()
