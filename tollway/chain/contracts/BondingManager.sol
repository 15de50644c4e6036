// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Manager} from "./Manager.sol";

/// @title Devnet BondingManager: stake, the active transcoder set, rewards and fees.
/// @notice Delegators bond LPT to a transcoder, an address that has bonded to itself. The
/// `getTranscoderPoolMaxSize()` registered transcoders with the most stake form the pool; joining
/// or leaving it takes effect next round, and each round's active set and stake are fixed when
/// the round is initialized. An active transcoder may call reward() once per round to mint its
/// share of the round's LPT, and winning tickets credit it fees in ETH. The transcoder keeps
/// rewardCut of its rewards and (100% - feeShare) of its fees; the rest is shared by everyone
/// bonded to it (itself included) in proportion to their stake.
///
/// Devnet simplifications: the pool is an unsorted array (no list hints); earnings use one
/// running cumulative reward factor and fee factor per transcoder (LIP-36's factors without the
/// per-round earnings pools), so rewards and fees are shared by the stake bonded when they
/// arrive and claims always run to the current round (the `_endRound` arguments are ignored, as
/// in Livepeer today); no rebond.
contract BondingManager is Manager {
    /// @notice rewardCut and feeShare are fractions of PERC_DIVISOR (1,000,000 = 100%).
    uint256 public constant PERC_DIVISOR = 1_000_000;
    /// @dev The fixed-point unit of the cumulative factors (Livepeer's PreciseMathUtils).
    uint256 private constant PRECISE_UNIT = 10 ** 27;

    struct Transcoder {
        uint256 lastRewardRound;
        uint256 rewardCut;
        uint256 feeShare;
        uint256 lastActiveStakeUpdateRound;
        uint256 activationRound;
        uint256 deactivationRound;
        uint256 activeStake; // total stake when lastActiveStakeUpdateRound was initialized
        uint256 cumulativeRewards; // reward cut not yet claimed by the transcoder
        uint256 cumulativeFees; // fee commission not yet claimed by the transcoder
        uint256 lastFeeRound;
        // What one unit of stake bonded when rewardFactor was PRECISE_UNIT is worth now, and the
        // fees earned per such unit: a delegator earns their growth since its last claim.
        uint256 rewardFactor;
        uint256 feeFactor;
    }

    struct UnbondingLock {
        uint256 amount;
        uint256 withdrawRound;
    }

    struct Delegator {
        uint256 bondedAmount;
        uint256 fees;
        address delegateAddress;
        uint256 delegatedAmount; // all stake bonded to this address, unclaimed earnings included
        uint256 startRound;
        uint256 lastClaimRound;
        uint256 lastRewardFactor; // the delegate's factors at the last claim
        uint256 lastFeeFactor;
        uint256 nextUnbondingLockId;
        mapping(uint256 => UnbondingLock) unbondingLocks;
    }

    uint256 public immutable unbondingPeriod;
    uint256 public currentRoundTotalActiveStake;
    uint256 private maxPoolSize;

    mapping(address => Transcoder) private transcoders;
    mapping(address => Delegator) private delegators;
    address[] private pool;
    mapping(address => uint256) private poolSlot; // index in `pool` + 1; 0 when not in the pool

    event TranscoderUpdate(address indexed transcoder, uint256 rewardCut, uint256 feeShare);
    event TranscoderActivated(address indexed transcoder, uint256 activationRound);
    event TranscoderDeactivated(address indexed transcoder, uint256 deactivationRound);
    event Reward(address indexed transcoder, uint256 amount);
    event Bond(
        address indexed newDelegate,
        address indexed oldDelegate,
        address indexed delegator,
        uint256 additionalAmount,
        uint256 bondedAmount
    );
    event Unbond(
        address indexed delegate,
        address indexed delegator,
        uint256 unbondingLockId,
        uint256 amount,
        uint256 withdrawRound
    );
    event WithdrawStake(
        address indexed delegator, uint256 unbondingLockId, uint256 amount, uint256 withdrawRound
    );
    event WithdrawFees(address indexed delegator, address recipient, uint256 amount);
    event EarningsClaimed(
        address indexed delegate,
        address indexed delegator,
        uint256 rewards,
        uint256 fees,
        uint256 startRound,
        uint256 endRound
    );
    event ParameterUpdate(string param);

    constructor(address _controller, uint256 _unbondingPeriod, uint256 _numActiveTranscoders)
        Manager(_controller)
    {
        require(_unbondingPeriod > 0, "unbonding period must be positive");
        require(_numActiveTranscoders > 0, "pool size must be positive");
        unbondingPeriod = _unbondingPeriod;
        maxPoolSize = _numActiveTranscoders;
    }

    function setNumActiveTranscoders(uint256 _numActiveTranscoders) external onlyControllerOwner {
        require(_numActiveTranscoders >= pool.length, "pool is larger than the new size");
        require(_numActiveTranscoders > 0, "pool size must be positive");
        maxPoolSize = _numActiveTranscoders;
        emit ParameterUpdate("numActiveTranscoders");
    }

    // ---- transcoders ---------------------------------------------------------------------

    /// @notice Sets the caller's cuts and, if it is not in the pool, tries to join it next round.
    function transcoder(uint256 _rewardCut, uint256 _feeShare)
        external
        whenSystemNotPaused
        whenCurrentRoundInitialized
    {
        require(_rewardCut <= PERC_DIVISOR, "invalid rewardCut percentage");
        require(_feeShare <= PERC_DIVISOR, "invalid feeShare percentage");
        require(isRegisteredTranscoder(msg.sender), "transcoder must be registered");
        uint256 round = _roundsManager().currentRound();
        Transcoder storage t = transcoders[msg.sender];
        // Cuts apply to the round's reward, so an active transcoder may change them only after it.
        require(
            !_isActive(t, round) || t.lastRewardRound == round,
            "caller can't be active or must have already called reward for the current round"
        );
        t.rewardCut = _rewardCut;
        t.feeShare = _feeShare;
        if (poolSlot[msg.sender] == 0) {
            _tryToJoinActiveSet(msg.sender, round + 1);
        }
        emit TranscoderUpdate(msg.sender, _rewardCut, _feeShare);
    }

    /// @notice Mints the caller's share of the round's LPT, in proportion to its active stake.
    function reward() external whenSystemNotPaused whenCurrentRoundInitialized {
        uint256 round = _roundsManager().currentRound();
        Transcoder storage t = transcoders[msg.sender];
        require(_isActive(t, round), "caller must be an active transcoder");
        require(
            t.lastRewardRound != round, "caller has already called reward for the current round"
        );
        t.lastRewardRound = round;

        uint256 activeStake = t.lastActiveStakeUpdateRound == round ? t.activeStake : 0;
        uint256 rewards = _minter().createReward(activeStake, currentRoundTotalActiveStake);
        uint256 transcoderRewards = rewards * t.rewardCut / PERC_DIVISOR;
        uint256 stake = _sharedStake(msg.sender);
        if (stake == 0) {
            transcoderRewards = rewards;
        } else {
            t.rewardFactor += t.rewardFactor * (rewards - transcoderRewards) / stake;
        }
        t.cumulativeRewards += transcoderRewards;
        delegators[msg.sender].delegatedAmount += rewards;
        emit Reward(msg.sender, rewards);
    }

    /// @notice Credits a winning ticket's value (whose ETH the Minter already holds) as fees.
    /// @param _round The creation round of the ticket that paid them.
    function updateTranscoderWithFees(address _transcoder, uint256 _fees, uint256 _round)
        external
        whenSystemNotPaused
        onlyContract(TICKET_BROKER, "caller must be TicketBroker")
    {
        require(isRegisteredTranscoder(_transcoder), "transcoder must be registered");
        Transcoder storage t = transcoders[_transcoder];
        uint256 delegatorsFees = _fees * t.feeShare / PERC_DIVISOR;
        uint256 stake = _sharedStake(_transcoder);
        if (stake == 0) {
            delegatorsFees = 0;
        } else {
            t.feeFactor += delegatorsFees * t.rewardFactor / stake;
        }
        t.cumulativeFees += _fees - delegatorsFees;
        t.lastFeeRound = _round;
    }

    /// @notice Fixes the new round's active set stake (RoundsManager.initializeRound).
    function setCurrentRoundTotalActiveStake()
        external
        onlyContract(ROUNDS_MANAGER, "caller must be RoundsManager")
    {
        uint256 round = _roundsManager().currentRound();
        uint256 total = 0;
        for (uint256 i = 0; i < pool.length; i++) {
            Transcoder storage t = transcoders[pool[i]];
            if (t.activationRound <= round) {
                t.activeStake = delegators[pool[i]].delegatedAmount;
                t.lastActiveStakeUpdateRound = round;
                total += t.activeStake;
            }
        }
        currentRoundTotalActiveStake = total;
    }

    // ---- delegators ----------------------------------------------------------------------

    /// @notice Bonds `_amount` more LPT (approved to this contract) to `_to`. Bonding to a new
    /// delegate moves the caller's whole stake; bonding to oneself registers a transcoder.
    function bond(uint256 _amount, address _to) external whenSystemNotPaused whenCurrentRoundInitialized {
        require(_to != address(0), "delegate is null address");
        uint256 round = _roundsManager().currentRound();
        _claimEarnings(msg.sender, round);

        Delegator storage del = delegators[msg.sender];
        address oldDelegate = del.delegateAddress;
        uint256 added = _amount;
        if (oldDelegate != _to) {
            require(
                !isRegisteredTranscoder(msg.sender),
                "registered transcoders can't delegate towards other addresses"
            );
            if (oldDelegate != address(0)) {
                delegators[oldDelegate].delegatedAmount -= del.bondedAmount;
                added += del.bondedAmount;
            }
            del.delegateAddress = _to;
            del.startRound = round + 1;
            _snapshotFactors(del, _to);
        }
        require(added > 0, "delegation amount must be greater than 0");
        del.bondedAmount += _amount;

        delegators[_to].delegatedAmount += added;
        if (poolSlot[_to] == 0 && isRegisteredTranscoder(_to)) {
            _tryToJoinActiveSet(_to, round + 1);
        }
        if (_amount > 0) {
            require(
                _token().transferFrom(msg.sender, address(_minter()), _amount),
                "token transfer failed"
            );
        }
        emit Bond(_to, oldDelegate, msg.sender, _amount, del.bondedAmount);
    }

    /// @notice Moves `_amount` of the caller's stake into a lock released after unbondingPeriod
    /// rounds. A transcoder that unbonds all its own stake resigns (leaves the pool next round).
    function unbond(uint256 _amount) external whenSystemNotPaused whenCurrentRoundInitialized {
        uint256 round = _roundsManager().currentRound();
        _claimEarnings(msg.sender, round);
        Delegator storage del = delegators[msg.sender];
        require(del.bondedAmount > 0, "caller must be bonded");
        require(_amount > 0, "unbond amount must be greater than 0");
        require(_amount <= del.bondedAmount, "amount is greater than bonded amount");

        address delegate = del.delegateAddress;
        uint256 lockId = del.nextUnbondingLockId++;
        uint256 withdrawRound = round + unbondingPeriod;
        del.unbondingLocks[lockId] = UnbondingLock(_amount, withdrawRound);
        del.bondedAmount -= _amount;
        delegators[delegate].delegatedAmount -= _amount;
        if (del.bondedAmount == 0) {
            if (delegate == msg.sender && poolSlot[msg.sender] != 0) {
                _leavePool(msg.sender, round + 1);
            }
            del.delegateAddress = address(0);
            del.startRound = 0;
        }
        emit Unbond(delegate, msg.sender, lockId, _amount, withdrawRound);
    }

    function withdrawStake(uint256 _unbondingLockId)
        external
        whenSystemNotPaused
        whenCurrentRoundInitialized
    {
        UnbondingLock storage lock = delegators[msg.sender].unbondingLocks[_unbondingLockId];
        uint256 amount = lock.amount;
        uint256 withdrawRound = lock.withdrawRound;
        require(withdrawRound > 0, "invalid unbonding lock ID");
        require(
            withdrawRound <= _roundsManager().currentRound(),
            "withdraw round must be before or equal to the current round"
        );
        delete delegators[msg.sender].unbondingLocks[_unbondingLockId];
        _minter().trustedTransferTokens(msg.sender, amount);
        emit WithdrawStake(msg.sender, _unbondingLockId, amount, withdrawRound);
    }

    function withdrawFees(address payable _recipient, uint256 _amount)
        external
        whenSystemNotPaused
        whenCurrentRoundInitialized
    {
        require(_recipient != address(0), "invalid recipient");
        _claimEarnings(msg.sender, _roundsManager().currentRound());
        Delegator storage del = delegators[msg.sender];
        require(del.fees >= _amount, "insufficient fees to withdraw");
        del.fees -= _amount;
        _minter().trustedWithdrawETH(_recipient, _amount);
        emit WithdrawFees(msg.sender, _recipient, _amount);
    }

    /// @notice Adds the caller's rewards to its bonded stake and its fees to its withdrawable fees.
    function claimEarnings(uint256 _endRound) external whenSystemNotPaused whenCurrentRoundInitialized {
        _endRound; // claims always run to the current round
        _claimEarnings(msg.sender, _roundsManager().currentRound());
    }

    // ---- views ---------------------------------------------------------------------------

    function pendingStake(address _delegator, uint256 _endRound) external view returns (uint256) {
        _endRound;
        (uint256 stake,) = _earnings(_delegator);
        return stake;
    }

    function pendingFees(address _delegator, uint256 _endRound) external view returns (uint256) {
        _endRound;
        (, uint256 fees) = _earnings(_delegator);
        return fees;
    }

    /// @notice An address is a registered transcoder while it has stake bonded to itself.
    function isRegisteredTranscoder(address _transcoder) public view returns (bool) {
        Delegator storage del = delegators[_transcoder];
        return del.delegateAddress == _transcoder && del.bondedAmount > 0;
    }

    function isActiveTranscoder(address _transcoder) public view returns (bool) {
        return _isActive(transcoders[_transcoder], _roundsManager().currentRound());
    }

    function getTranscoderPoolSize() external view returns (uint256) {
        return pool.length;
    }

    function getTranscoderPoolMaxSize() external view returns (uint256) {
        return maxPoolSize;
    }

    /// @notice Pool members in pool order (unsorted on the devnet); the null address ends it.
    function getFirstTranscoderInPool() external view returns (address) {
        return pool.length > 0 ? pool[0] : address(0);
    }

    function getNextTranscoderInPool(address _transcoder) external view returns (address) {
        uint256 slot = poolSlot[_transcoder];
        return slot > 0 && slot < pool.length ? pool[slot] : address(0);
    }

    function transcoderTotalStake(address _transcoder) external view returns (uint256) {
        return delegators[_transcoder].delegatedAmount;
    }

    function getTotalBonded() external view returns (uint256) {
        return currentRoundTotalActiveStake;
    }

    function getTranscoder(address _transcoder)
        external
        view
        returns (
            uint256 lastRewardRound,
            uint256 rewardCut,
            uint256 feeShare,
            uint256 lastActiveStakeUpdateRound,
            uint256 activationRound,
            uint256 deactivationRound,
            uint256 activeStake,
            uint256 cumulativeRewards,
            uint256 cumulativeFees,
            uint256 lastFeeRound
        )
    {
        Transcoder storage t = transcoders[_transcoder];
        return (
            t.lastRewardRound,
            t.rewardCut,
            t.feeShare,
            t.lastActiveStakeUpdateRound,
            t.activationRound,
            t.deactivationRound,
            t.activeStake,
            t.cumulativeRewards,
            t.cumulativeFees,
            t.lastFeeRound
        );
    }

    function getDelegator(address _delegator)
        external
        view
        returns (
            uint256 bondedAmount,
            uint256 fees,
            address delegateAddress,
            uint256 delegatedAmount,
            uint256 startRound,
            uint256 lastClaimRound,
            uint256 nextUnbondingLockId
        )
    {
        Delegator storage del = delegators[_delegator];
        return (
            del.bondedAmount,
            del.fees,
            del.delegateAddress,
            del.delegatedAmount,
            del.startRound,
            del.lastClaimRound,
            del.nextUnbondingLockId
        );
    }

    function getDelegatorUnbondingLock(address _delegator, uint256 _unbondingLockId)
        external
        view
        returns (uint256 amount, uint256 withdrawRound)
    {
        UnbondingLock storage lock = delegators[_delegator].unbondingLocks[_unbondingLockId];
        return (lock.amount, lock.withdrawRound);
    }

    // ---- internals -----------------------------------------------------------------------

    function _isActive(Transcoder storage _t, uint256 _round) private view returns (bool) {
        return _t.activationRound <= _round && _round < _t.deactivationRound;
    }

    /// @dev The stake that shares rewards and fees: everything bonded to `_transcoder` except its
    /// own unclaimed reward cut (which starts earning once claimed).
    function _sharedStake(address _transcoder) private view returns (uint256) {
        return delegators[_transcoder].delegatedAmount - transcoders[_transcoder].cumulativeRewards;
    }

    /// @dev Joins the pool from `_activationRound`, evicting the member with the least stake if
    /// the pool is full and the newcomer has more.
    function _tryToJoinActiveSet(address _transcoder, uint256 _activationRound) private {
        if (pool.length >= maxPoolSize) {
            address weakest = pool[0];
            for (uint256 i = 1; i < pool.length; i++) {
                if (delegators[pool[i]].delegatedAmount < delegators[weakest].delegatedAmount) {
                    weakest = pool[i];
                }
            }
            if (delegators[_transcoder].delegatedAmount <= delegators[weakest].delegatedAmount) {
                return;
            }
            _leavePool(weakest, _activationRound);
        }
        pool.push(_transcoder);
        poolSlot[_transcoder] = pool.length;
        Transcoder storage t = transcoders[_transcoder];
        t.activationRound = _activationRound;
        t.deactivationRound = type(uint256).max;
        emit TranscoderActivated(_transcoder, _activationRound);
    }

    function _leavePool(address _transcoder, uint256 _deactivationRound) private {
        uint256 index = poolSlot[_transcoder] - 1;
        address last = pool[pool.length - 1];
        pool[index] = last;
        poolSlot[last] = index + 1;
        pool.pop();
        delete poolSlot[_transcoder];
        transcoders[_transcoder].deactivationRound = _deactivationRound;
        emit TranscoderDeactivated(_transcoder, _deactivationRound);
    }

    function _snapshotFactors(Delegator storage _del, address _delegate) private {
        Transcoder storage t = transcoders[_delegate];
        if (t.rewardFactor == 0) {
            t.rewardFactor = PRECISE_UNIT;
        }
        _del.lastRewardFactor = t.rewardFactor;
        _del.lastFeeFactor = t.feeFactor;
    }

    /// @dev `_delegator`'s stake and fees with its earnings since the last claim included.
    function _earnings(address _delegator) private view returns (uint256 stake, uint256 fees) {
        Delegator storage del = delegators[_delegator];
        stake = del.bondedAmount;
        fees = del.fees;
        address delegate = del.delegateAddress;
        if (delegate == address(0)) {
            return (stake, fees);
        }
        Transcoder storage t = transcoders[delegate];
        fees += stake * (t.feeFactor - del.lastFeeFactor) / del.lastRewardFactor;
        stake = stake * t.rewardFactor / del.lastRewardFactor;
        if (delegate == _delegator) {
            stake += t.cumulativeRewards;
            fees += t.cumulativeFees;
        }
    }

    function _claimEarnings(address _delegator, uint256 _round) private {
        Delegator storage del = delegators[_delegator];
        address delegate = del.delegateAddress;
        if (delegate != address(0)) {
            (uint256 stake, uint256 fees) = _earnings(_delegator);
            uint256 rewards = stake - del.bondedAmount;
            uint256 newFees = fees - del.fees;
            if (delegate == _delegator) {
                Transcoder storage t = transcoders[delegate];
                t.cumulativeRewards = 0;
                t.cumulativeFees = 0;
            }
            del.bondedAmount = stake;
            del.fees = fees;
            _snapshotFactors(del, delegate);
            if (rewards > 0 || newFees > 0) {
                emit EarningsClaimed(
                    delegate, _delegator, rewards, newFees, del.lastClaimRound + 1, _round
                );
            }
        }
        del.lastClaimRound = _round;
    }
}
