// Learning-rate schedulers: each one's sequence of learning rates, for two parameter groups with
// different base rates, equals what PyTorch 1.13's scheduler sets (tests/golden/optim_reference.py
// printed these values), OneCycleLR's momentum (or Adam's beta1) too; state saved mid-schedule
// resumes the same sequence.
#include <cmath>
#include <memory>
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

TEST(LambdaLR, ConstructionAppliesTheFunctionOfEpochZeroLikePyTorch) {
  TwoGroups groups;
  optim::LambdaLR scheduler(groups.sgd, [](std::int64_t e) { return 0.5 + static_cast<double>(e); });
  EXPECT_EQ(scheduler.last_lr(), (std::vector<double>{0.1 * 0.5, 0.025 * 0.5}));
  scheduler.step();
  EXPECT_EQ(scheduler.last_lr(), (std::vector<double>{0.1 * 1.5, 0.025 * 1.5}));
}

// Expects, after construction and after each step, every group's lr and momentum (SGD's
// momentum or Adam's beta1) as the golden script printed them, bit for bit.
struct LrMomentumSequence {
  std::vector<double> lr0, momentum0, lr1, momentum1;
};

void expect_lr_and_momentum(optim::Optimizer& optimizer, optim::LRScheduler& scheduler,
                            const LrMomentumSequence& expected) {
  for (std::size_t step = 0; step < expected.lr0.size(); ++step) {
    if (step > 0) scheduler.step();
    EXPECT_EQ(optimizer.group_lr(0), expected.lr0[step]) << "step " << step;
    EXPECT_EQ(optimizer.group_momentum(0), expected.momentum0[step]) << "step " << step;
    EXPECT_EQ(optimizer.group_lr(1), expected.lr1[step]) << "step " << step;
    EXPECT_EQ(optimizer.group_momentum(1), expected.momentum1[step]) << "step " << step;
  }
}

TEST(OneCycleLR, CosineCycleOfLrAndMomentumPerGroupLikePyTorch) {
  Tensor a = zeros({1}, kFloat64).requires_grad_(), b = zeros({1}, kFloat64).requires_grad_();
  SGD sgd{{{{a}, std::nullopt}, {{b}, optim::SGDOptions{.lr = 0.025, .momentum = 0.9}}}, {.lr = 0.1, .momentum = 0.9}};
  optim::OneCycleLR scheduler(sgd, {1.0, 0.5}, {.total_steps = 10});
  EXPECT_EQ(scheduler.total_steps(), 10);
  const std::vector<double> momentum{0.95, 0.8999999999999999, 0.85, 0.854951556604879, 0.8688255099070633,
                                     0.8888739533021842, 0.9111260466978157, 0.9311744900929366, 0.945048443395121,
                                     0.95, 0.945048443395121};
  expect_lr_and_momentum(
      sgd, scheduler,
      {.lr0 = {0.040000000000000036, 0.52, 1.0, 0.9504846320134737, 0.8117456539497631, 0.6112620219362893,
               0.38874197806371075, 0.18825834605023697, 0.049519367986526286, 4e-06, 0.04951936798652623},
       .momentum0 = momentum,
       .lr1 = {0.020000000000000018, 0.26, 0.5, 0.47524231600673683, 0.40587282697488153, 0.30563101096814466,
               0.19437098903185537, 0.09412917302511849, 0.024759683993263143, 2e-06, 0.024759683993263115},
       .momentum1 = momentum});
  // Step 10 is the last the schedule has, as in PyTorch.
  expect_error([&] { scheduler.step(); }, {"OneCycleLR", "11 times", "10 steps", "total_steps"});
}

TEST(OneCycleLR, LinearThreePhaseCycleSetsAdamsBeta1LikePyTorch) {
  Tensor a = zeros({1}, kFloat64).requires_grad_(), b = zeros({1}, kFloat64).requires_grad_();
  optim::Adam adam{{{{a}, std::nullopt}, {{b}, optim::AdamOptions{.lr = 0.025}}}, {.lr = 0.1}};
  optim::OneCycleLR scheduler(adam, 0.3,
                              {.epochs = 3, .steps_per_epoch = 4, .pct_start = 0.25,
                               .anneal_strategy = optim::OneCycleLROptions::Anneal::Linear, .base_momentum = 0.8,
                               .max_momentum = 0.9, .div_factor = 10, .final_div_factor = 100, .three_phase = true});
  EXPECT_EQ(scheduler.total_steps(), 12);
  const std::vector<double> lr{0.03, 0.165, 0.30000000000000004, 0.16499999999999998, 0.02999999999999997,
                               0.025757142857142857, 0.021514285714285715, 0.017271428571428573, 0.013028571428571431,
                               0.008785714285714286, 0.004542857142857147, 0.00030000000000000165,
                               -0.003942857142857137};
  const std::vector<double> momentum{0.9, 0.8500000000000001, 0.8, 0.8500000000000001, 0.9, 0.9, 0.9,
                                     0.9, 0.9, 0.9, 0.9, 0.9, 0.9};
  expect_lr_and_momentum(adam, scheduler, {.lr0 = lr, .momentum0 = momentum, .lr1 = lr, .momentum1 = momentum});
  EXPECT_EQ(adam.options(0).betas[1], 0.999) << "beta2 is left alone";
}

TEST(OneCycleLR, RefusesMissingLengthsBadFractionsAndOptimizersWithoutMomentum) {
  TwoGroups groups;
  expect_error([&] { optim::OneCycleLR(groups.sgd, 1.0, {}); }, {"total_steps", "epochs and steps_per_epoch"});
  expect_error([&] { optim::OneCycleLR(groups.sgd, 1.0, {.total_steps = 5, .pct_start = 1.5}); }, {"pct_start", "1.5"});
  expect_error([&] { optim::OneCycleLR(groups.sgd, {1.0, 2.0, 3.0}, {.total_steps = 5}); }, {"max_lr", "got 3"});
  Tensor w = zeros({1}, kFloat64).requires_grad_();
  optim::Adagrad adagrad({w});
  expect_error([&] { optim::OneCycleLR(adagrad, 1.0, {.total_steps = 5}); }, {"Adagrad", "momentum", "cycle_momentum"});
  optim::OneCycleLR without_momentum(adagrad, 1.0, {.total_steps = 5, .cycle_momentum = false});
  EXPECT_DOUBLE_EQ(adagrad.group_lr(0), 0.040000000000000036);  // the cosine at 0, as PyTorch's
}

TEST(SequentialLR, WarmUpThenDecayFromTheInitialRateAtTheMilestoneLikePyTorch) {
  TwoGroups groups;
  auto warm_up = std::make_shared<optim::LinearLR>(groups.sgd, 0.25, 1.0, 4);
  auto decay = std::make_shared<optim::ExponentialLR>(groups.sgd, 0.9);
  optim::SequentialLR scheduler(groups.sgd, {warm_up, decay}, {3});
  EXPECT_DOUBLE_EQ(groups.sgd.group_lr(0), 0.025);
  EXPECT_DOUBLE_EQ(groups.sgd.group_lr(1), 0.00625);
  expect_lr_sequence(
      groups, [&](std::size_t) { scheduler.step(); },
      {0.043750000000000004, 0.06250000000000001, 0.1, 0.09000000000000001, 0.08100000000000002, 0.07290000000000002,
       0.06561000000000002, 0.05904900000000002},
      {0.010937500000000001, 0.015625000000000003, 0.025, 0.022500000000000003, 0.020250000000000004,
       0.018225000000000005, 0.016402500000000004, 0.014762250000000005});
  EXPECT_EQ(scheduler.last_lr(), decay->last_lr());
}

TEST(SequentialLR, ThreeSchedulersEachRestartAtTheSharedInitialRateLikePyTorch) {
  TwoGroups groups;
  optim::SequentialLR scheduler(groups.sgd,
                                {std::make_shared<optim::ExponentialLR>(groups.sgd, 0.5),
                                 std::make_shared<optim::LinearLR>(groups.sgd, 0.5, 1.0, 2),
                                 std::make_shared<optim::CosineAnnealingLR>(groups.sgd, 4, 0.001)},
                                {2, 5});
  EXPECT_EQ(scheduler.last_lr(), (std::vector<double>{0.1, 0.025}));
  expect_lr_sequence(
      groups, [&](std::size_t) { scheduler.step(); },
      {0.05, 0.05, 0.07500000000000001, 0.1, 0.1, 0.0855017856687341, 0.0505, 0.0154982143312659, 0.001,
       0.015498214331265896},
      {0.0125, 0.0125, 0.018750000000000003, 0.025, 0.025, 0.02148528137423857, 0.012999999999999998,
       0.00451471862576143, 0.001, 0.00451471862576143});
}

TEST(SequentialLR, RefusesMismatchedMilestonesAndForeignSchedulers) {
  TwoGroups groups, other;
  auto first = std::make_shared<optim::ExponentialLR>(groups.sgd, 0.5);
  auto second = std::make_shared<optim::StepLR>(groups.sgd, 2);
  expect_error([&] { optim::SequentialLR(groups.sgd, {first, second}, {}); }, {"2 schedulers", "0 milestones"});
  expect_error([&] { optim::SequentialLR(groups.sgd, {first, second, second}, {4, 2}); }, {"increasing", "4, 2"});
  auto foreign = std::make_shared<optim::StepLR>(other.sgd, 2);
  expect_error([&] { optim::SequentialLR(groups.sgd, {first, foreign}, {2}); }, {"scheduler 1", "another optimizer"});
}

TEST(SchedulerState, ASavedSequentialScheduleResumesTheSameSequence) {
  TwoGroups original, resumed;
  const auto build = [](TwoGroups& groups) {
    return std::make_unique<optim::SequentialLR>(
        groups.sgd,
        std::vector<std::shared_ptr<optim::LRScheduler>>{std::make_shared<optim::LinearLR>(groups.sgd, 0.25, 1.0, 4),
                                                         std::make_shared<optim::CosineAnnealingLR>(groups.sgd, 5)},
        std::vector<std::int64_t>{3});
  };
  const auto first = build(original);
  for (int epoch = 0; epoch < 5; ++epoch) first->step();
  const auto second = build(resumed);
  second->load_state(first->state());
  resumed.sgd.set_group_lr(0, original.sgd.group_lr(0));
  resumed.sgd.set_group_lr(1, original.sgd.group_lr(1));
  for (int epoch = 0; epoch < 8; ++epoch) {
    first->step();
    second->step();
    EXPECT_EQ(second->last_lr(), first->last_lr()) << "epoch " << epoch;
  }
}

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

// A resumed run given other initial rates: the schedule restored from the old run and rebased on
// the new rates goes on as a run started from them would, to rounding (schedules are linear in
// their base rates, and in a floor such as eta_min that the program derives from the same lr).
TEST(SchedulerState, ARebasedScheduleContinuesAsIfStartedFromTheNewRates) {
  const auto build = [](TwoGroups& groups, double eta_min) {
    return std::make_unique<optim::SequentialLR>(
        groups.sgd,
        std::vector<std::shared_ptr<optim::LRScheduler>>{
            std::make_shared<optim::LinearLR>(groups.sgd, 0.25, 1.0, 4),
            std::make_shared<optim::CosineAnnealingLR>(groups.sgd, 6, eta_min)},
        std::vector<std::int64_t>{3});
  };
  const auto halved = [](TwoGroups& groups) {
    groups.sgd.set_group_lr(0, 0.05);
    groups.sgd.set_group_lr(1, 0.0125);
    return &groups;
  };
  TwoGroups old_run, resumed, fresh;
  const auto original = build(old_run, 0.0005);
  const auto reference = build(*halved(fresh), 0.00025);
  for (int epoch = 0; epoch < 5; ++epoch) {
    original->step();
    reference->step();
  }
  const auto rebased = build(*halved(resumed), 0.00025);
  rebased->load_state(original->state());
  rebased->rebase({0.05, 0.0125});
  for (std::size_t group = 0; group < 2; ++group) {  // what the caller does to the optimizer
    EXPECT_NEAR(rebased->last_lr()[group], original->last_lr()[group] / 2, 1e-17);
    resumed.sgd.set_group_lr(group, rebased->last_lr()[group]);
  }
  for (int epoch = 0; epoch < 8; ++epoch) {
    rebased->step();
    reference->step();
    for (std::size_t group = 0; group < 2; ++group)
      EXPECT_NEAR(resumed.sgd.group_lr(group), fresh.sgd.group_lr(group), 1e-15) << "epoch " << epoch;
  }
  expect_error([&] { rebased->rebase({0.1}); }, {"1 learning rates for 2 groups"});
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
