// Learning-rate schedulers: each one's sequence of learning rates, for two parameter groups with
// different base rates, equals what PyTorch 1.13's scheduler sets (tests/golden/optim_reference.py
// printed these values); state saved mid-schedule resumes the same sequence.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include <tapegrad/optim/optim.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using optim::SGD;
using tapegrad::testing::expect_error;

// An SGD optimizer over two parameters in two groups with lr 0.1 and 0.025, as the golden script
// builds it.
struct TwoGroups {
  Tensor a = zeros({1}, kFloat64).requires_grad_(), b = zeros({1}, kFloat64).requires_grad_();
  SGD sgd{{{{a}, std::nullopt}, {{b}, optim::SGDOptions{.lr = 0.025}}}, {.lr = 0.1}};
};

// Steps `scheduler` once per epoch and expects the groups' rates after each step.
template <class Step>
void expect_lr_sequence(TwoGroups& groups, Step&& step, const std::vector<double>& group0,
                        const std::vector<double>& group1) {
  for (std::size_t epoch = 0; epoch < group0.size(); ++epoch) {
    step(epoch);
    EXPECT_DOUBLE_EQ(groups.sgd.group_lr(0), group0[epoch]) << "epoch " << epoch;
    EXPECT_DOUBLE_EQ(groups.sgd.group_lr(1), group1[epoch]) << "epoch " << epoch;
  }
}

TEST(StepLR, DecaysByGammaEveryStepSizeEpochsLikePyTorch) {
  TwoGroups groups;
  optim::StepLR scheduler(groups.sgd, 3, 0.5);
  EXPECT_EQ(scheduler.last_lr(), (std::vector<double>{0.1, 0.025}));  // construction changes nothing
  expect_lr_sequence(
      groups, [&](std::size_t) { scheduler.step(); },
      {0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125, 0.0125, 0.00625},
      {0.025, 0.025, 0.0125, 0.0125, 0.0125, 0.00625, 0.00625, 0.00625, 0.003125, 0.003125, 0.003125, 0.0015625});
  EXPECT_EQ(scheduler.last_lr(), (std::vector<double>{0.00625, 0.0015625}));
  EXPECT_EQ(scheduler.last_epoch(), 12);
}

TEST(LambdaLR, ScalesTheBaseRateByTheFunctionOfTheEpochLikePyTorch) {
  TwoGroups groups;
  optim::LambdaLR scheduler(groups.sgd, [](std::int64_t e) { return std::pow(0.95, e) / static_cast<double>(1 + e % 3); });
  expect_lr_sequence(
      groups, [&](std::size_t) { scheduler.step(); },
      {0.0475, 0.030083333333333337, 0.0857375, 0.0407253125, 0.02579269791666666, 0.07350918906249998,
       0.03491686480468749, 0.022114014376302074},
      {0.011875, 0.007520833333333334, 0.021434375, 0.010181328125, 0.006448174479166665, 0.018377297265624995,
       0.008729216201171872, 0.0055285035940755185});
  expect_error([&] { optim::LambdaLR(groups.sgd, std::vector<optim::LambdaLR::Lambda>(3, [](std::int64_t) { return 1.0; })); },
               {"LambdaLR", "1 or 2 functions", "got 3"});
}

TEST(MultiStepLR, DecaysAtEachMilestoneAndTwiceAtARepeatedOneLikePyTorch) {
  TwoGroups groups;
  optim::MultiStepLR scheduler(groups.sgd, {2, 5, 5}, 0.3);
  expect_lr_sequence(
      groups, [&](std::size_t) { scheduler.step(); },
      {0.1, 0.03, 0.03, 0.03, 0.0026999999999999997, 0.0026999999999999997, 0.0026999999999999997, 0.0026999999999999997},
      {0.025, 0.0075, 0.0075, 0.0075, 0.0006749999999999999, 0.0006749999999999999, 0.0006749999999999999,
       0.0006749999999999999});
}

TEST(LinearLR, WarmsUpFromStartFactorFromConstructionOnLikePyTorch) {
  TwoGroups groups;
  optim::LinearLR scheduler(groups.sgd, 0.25, 1.0, 4);
  EXPECT_DOUBLE_EQ(groups.sgd.group_lr(0), 0.025) << "construction applies start_factor, as PyTorch's";
  EXPECT_EQ(scheduler.last_lr(), (std::vector<double>{0.025, 0.00625}));
  expect_lr_sequence(
      groups, [&](std::size_t) { scheduler.step(); },
      {0.043750000000000004, 0.06250000000000001, 0.08125000000000002, 0.10000000000000002, 0.10000000000000002,
       0.10000000000000002, 0.10000000000000002},
      {0.010937500000000001, 0.015625000000000003, 0.020312500000000004, 0.025000000000000005, 0.025000000000000005,
       0.025000000000000005, 0.025000000000000005});
  expect_error([&] { optim::LinearLR(groups.sgd, 0.0); }, {"LinearLR", "start_factor", "(0, 1]"});
}

TEST(ExponentialLR, MultipliesByGammaEachEpochLikePyTorch) {
  TwoGroups groups;
  optim::ExponentialLR scheduler(groups.sgd, 0.9);
  expect_lr_sequence(
      groups, [&](std::size_t) { scheduler.step(); },
      {0.09000000000000001, 0.08100000000000002, 0.07290000000000002, 0.06561000000000002, 0.05904900000000002,
       0.05314410000000002, 0.04782969000000002, 0.043046721000000024, 0.03874204890000002, 0.03486784401000002,
       0.03138105960900001, 0.028242953648100012},
      {0.022500000000000003, 0.020250000000000004, 0.018225000000000005, 0.016402500000000004, 0.014762250000000005,
       0.013286025000000005, 0.011957422500000005, 0.010761680250000006, 0.009685512225000005, 0.008716961002500004,
       0.007845264902250003, 0.007060738412025003});
}

TEST(CosineAnnealingLR, FollowsPyTorchsRecursiveCosineThroughTwoPeriods) {
  TwoGroups groups;
  optim::CosineAnnealingLR scheduler(groups.sgd, 10, 0.001);
  expect_lr_sequence(
      groups, [&](std::size_t) { scheduler.step(); },
      {0.09757729755661011, 0.0905463412215599, 0.07959536998847742, 0.0657963412215599, 0.0505,
       0.03520365877844011, 0.02140463001152259, 0.010453658778440109, 0.0034227024433899004, 0.001,
       0.0034227024433899004, 0.01045365877844014, 0.02140463001152267, 0.035203658778440255, 0.05050000000000022,
       0.06579634122156018, 0.07959536998847777, 0.09054634122156031, 0.09757729755661054, 0.10000000000000045,
       0.09757729755661054, 0.09054634122156033, 0.07959536998847778, 0.0657963412215602, 0.050500000000000225,
       0.03520365877844027, 0.021404630011522683, 0.010453658778440154, 0.003422702443389916, 0.001,
       0.0034227024433899004, 0.010453658778440112, 0.021404630011522607, 0.03520365877844015, 0.050500000000000086},
      {0.024412678195541847, 0.022708203932499373, 0.020053423027509683, 0.016708203932499374, 0.013000000000000005,
       0.009291796067500635, 0.0059465769724903255, 0.0032917960675006327, 0.0015873218044581577, 0.001,
       0.0015873218044581577, 0.0032917960675006397, 0.005946576972490343, 0.009291796067500666, 0.01300000000000005,
       0.016708203932499433, 0.020053423027509756, 0.022708203932499463, 0.024412678195541944, 0.025000000000000102,
       0.024412678195541944, 0.02270820393249947, 0.020053423027509763, 0.01670820393249944, 0.013000000000000053,
       0.00929179606750067, 0.0059465769724903455, 0.0032917960675006427, 0.0015873218044581614, 0.001,
       0.0015873218044581577, 0.003291796067500633, 0.005946576972490329, 0.009291796067500642, 0.013000000000000018});
}

const std::vector<double> kPlateauMetrics = {1.0,  0.9,  0.95, 0.95, 0.95, 0.95, 0.8,  0.85, 0.85, 0.85,
                                             0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85};

TEST(ReduceLROnPlateau, HalvesAfterPatienceWithCooldownAndPerGroupFloorsLikePyTorch) {
  TwoGroups groups;
  optim::ReduceLROnPlateau scheduler(groups.sgd, {.factor = 0.5, .patience = 2, .cooldown = 1, .min_lr = {0.01, 0.02}});
  expect_lr_sequence(
      groups, [&](std::size_t epoch) { scheduler.step(kPlateauMetrics[epoch]); },
      {0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.0125, 0.0125, 0.0125, 0.0125,
       0.01, 0.01, 0.01},
      {0.025, 0.025, 0.025, 0.025, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02,
       0.02, 0.02});
  EXPECT_DOUBLE_EQ(scheduler.best(), 0.8);
}

TEST(ReduceLROnPlateau, MaxModeWithAbsoluteThresholdLikePyTorch) {
  using Options = optim::ReduceLROnPlateauOptions;
  TwoGroups groups;
  optim::ReduceLROnPlateau scheduler(
      groups.sgd, {.mode = Options::Mode::Max, .patience = 1, .threshold = 0.1, .threshold_mode = Options::ThresholdMode::Abs});
  // Below eps = 1e-8 apart, reductions stop.
  expect_lr_sequence(
      groups, [&](std::size_t epoch) { scheduler.step(-kPlateauMetrics[epoch]); },
      {0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.0010000000000000002, 0.0010000000000000002,
       0.0010000000000000002, 0.0010000000000000002, 0.00010000000000000003, 0.00010000000000000003,
       1.0000000000000004e-05, 1.0000000000000004e-05, 1.0000000000000004e-06, 1.0000000000000004e-06,
       1.0000000000000005e-07, 1.0000000000000005e-07, 1.0000000000000005e-08, 1.0000000000000005e-08,
       1.0000000000000005e-08, 1.0000000000000005e-08},
      {0.025, 0.025, 0.0025000000000000005, 0.0025000000000000005, 0.00025000000000000006, 0.00025000000000000006,
       0.00025000000000000006, 0.00025000000000000006, 2.5000000000000008e-05, 2.5000000000000008e-05,
       2.500000000000001e-06, 2.500000000000001e-06, 2.500000000000001e-07, 2.500000000000001e-07,
       2.5000000000000012e-08, 2.5000000000000012e-08, 2.5000000000000013e-09, 2.5000000000000013e-09,
       2.5000000000000013e-09, 2.5000000000000013e-09});
}

TEST(ReduceLROnPlateau, RejectsAFactorOfOneOrMoreAndMisSizedFloors) {
  TwoGroups groups;
  expect_error([&] { optim::ReduceLROnPlateau(groups.sgd, {.factor = 1.0}); }, {"factor should be < 1.0"});
  expect_error([&] { optim::ReduceLROnPlateau(groups.sgd, {.min_lr = {0, 0, 0}}); }, {"min_lr", "got 3"});
}

TEST(SchedulerState, ASavedCosineScheduleResumesTheSameSequence) {
  TwoGroups original, resumed;
  optim::CosineAnnealingLR first(original.sgd, 10, 0.001);
  for (int epoch = 0; epoch < 7; ++epoch) first.step();
  // The resumed run starts from the saved learning rates, as it would after loading the optimizer.
  resumed.sgd.set_group_lr(0, original.sgd.group_lr(0));
  resumed.sgd.set_group_lr(1, original.sgd.group_lr(1));
  optim::CosineAnnealingLR second(resumed.sgd, 10, 0.001);
  second.load_state(first.state());
  EXPECT_EQ(second.last_epoch(), 7);
  for (int epoch = 0; epoch < 20; ++epoch) {
    first.step();
    second.step();
    EXPECT_EQ(second.last_lr(), first.last_lr()) << "epoch " << epoch;
  }
}

TEST(SchedulerState, ASavedPlateauSchedulerResumesItsCounters) {
  TwoGroups original, resumed;
  optim::ReduceLROnPlateau first(original.sgd, {.patience = 2});
  for (int epoch = 0; epoch < 4; ++epoch) first.step(kPlateauMetrics[epoch]);
  optim::ReduceLROnPlateau second(resumed.sgd, {.patience = 2});
  second.load_state(first.state());
  EXPECT_EQ(second.best(), first.best());
  EXPECT_EQ(second.num_bad_epochs(), first.num_bad_epochs());
  for (std::size_t epoch = 4; epoch < kPlateauMetrics.size(); ++epoch) {
    first.step(kPlateauMetrics[epoch]);
    second.step(kPlateauMetrics[epoch]);
    EXPECT_EQ(resumed.sgd.group_lr(0), original.sgd.group_lr(0)) << "epoch " << epoch;
  }
}

TEST(SchedulerState, LoadingMalformedOrMismatchedStateThrows) {
  TwoGroups groups;
  optim::StepLR scheduler(groups.sgd, 2);
  expect_error([&] { scheduler.load_state("{not json"); }, {"malformed"});
  expect_error([&] { scheduler.load_state(R"({"last_epoch": 3})"); }, {"base_lrs"});
  expect_error([&] { scheduler.load_state(R"({"last_epoch": 3, "base_lrs": [0.1], "last_lr": [0.1]})"); },
               {"1 learning rates", "2 groups"});
  EXPECT_EQ(scheduler.last_epoch(), 0);
}

}  // namespace
}  // namespace tapegrad
