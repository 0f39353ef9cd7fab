// Evaluation that runs inside `pretext train`: the online linear probe (eval.online_probe)
// and a k-NN evaluation every eval.knn_every_epochs epochs, as Trainer hooks.
#pragma once

#include <memory>

#include "data/dataset.h"
#include "distributed/comm.h"
#include "evaluation/online_probe.h"
#include "launch/config.h"
#include "objectives/objective.h"
#include "train/trainer.h"

namespace pretext {

/// With eval.online_probe, a probe over the evaluation encoder's features registered in the
/// objective as "online_probe", so checkpoints save and restore it; empty otherwise.
OnlineProbe attach_online_probe(Objective& objective, const RunConfig& config, int64_t num_classes);

/// The hooks for the probe (when given) and the periodic k-NN (when configured).
TrainerHooks make_training_hooks(const RunConfig& config, std::shared_ptr<Objective> objective,
                                 OnlineProbe probe, Comm& comm);

}  // namespace pretext
