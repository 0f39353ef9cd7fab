// The explicit table of objectives. Adding one is a file pair plus one line in registry.cpp;
// its options reach the config through bind_options(), its construction through build().
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "distributed/comm.h"
#include "models/backbone.h"
#include "objectives/objective.h"
#include "objectives/option_binding.h"

namespace pretext {

/// What every objective gets besides its own options.
struct ObjectiveContext {
  BackboneFactory make_backbone;
  Comm* comm = nullptr;
  /// Side of the global crops the data pipeline produces (e.g. 224, or 28 for Fashion-MNIST).
  int64_t image_size = 224;
};

/// One objective's options (filled from the config through bindings()) and its factory.
class ObjectiveSpec {
 public:
  virtual ~ObjectiveSpec() = default;
  virtual std::string name() const = 0;
  /// Keys of this objective's config section ([<name>]), bound to its Options struct.
  virtual OptionBindings bindings() = 0;
  virtual std::shared_ptr<Objective> build(const ObjectiveContext& context) const = 0;
};

/// Registered names, in registry order.
std::vector<std::string> objective_names();

/// Default-initialised spec for `name`; an unknown name lists the known ones.
std::unique_ptr<ObjectiveSpec> make_objective_spec(const std::string& name);

/// Spec for an objective class `Impl` constructed as Impl(context, options), with
/// `OptionBindings bind_options(Options&)` found by argument-dependent lookup.
template <typename Options, typename Impl>
class ObjectiveSpecFor final : public ObjectiveSpec {
 public:
  explicit ObjectiveSpecFor(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  OptionBindings bindings() override { return bind_options(options_); }
  std::shared_ptr<Objective> build(const ObjectiveContext& context) const override {
    return std::make_shared<Impl>(context, options_);
  }

 private:
  std::string name_;
  Options options_;
};

}  // namespace pretext
