// The one parser of loss options on the JS side of the boundary (createTrainer, preferenceLoss),
// and lossCatalogue(): the core's catalogue (core/preference_loss.h loss_catalogue()) as JS data.
#pragma once
#include <napi.h>

#include "core/train/preference_loss.h"

namespace rdpo::napi {

// Reads { loss, dpoVariant?, rationaleForm?, rationaleNorm?, beta?, gamma?, labelSmoothing?,
// simpoMargin?, sftWeight? }: `loss` is required; an absent or undefined field takes the loss's
// default from the catalogue (γ's default follows the rationale form). Wrong kinds are TypeError,
// unknown names ArgumentError (TypeError in JS) listing the accepted ones; ranges are checked by
// the core when the loss runs.
rdpo::LossOptions parse_loss_options(const Napi::Object& options);

}  // namespace rdpo::napi
