// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Manager} from "./Manager.sol";

/// @title Devnet round clock.
/// @notice A round is `roundLength` blocks. Anyone may initialize the current round once; doing so
/// records the hash of the previous block (which tickets carry in their auxData), fixes the
/// round's active transcoder set and stake, and opens the round's LPT issuance.
contract RoundsManager is Manager {
    uint256 public immutable roundLength;
    uint256 public lastInitializedRound;

    mapping(uint256 => bytes32) private roundBlockHashes;
    // A flag per round rather than `lastInitializedRound == currentRound()`: round 0 starts
    // uninitialized although lastInitializedRound is 0.
    mapping(uint256 => bool) private roundInitialized;

    event NewRound(uint256 indexed round, bytes32 blockHash);

    constructor(address _controller, uint256 _roundLength) Manager(_controller) {
        require(_roundLength > 0, "round length must be positive");
        roundLength = _roundLength;
    }

    function currentRound() public view returns (uint256) {
        return block.number / roundLength;
    }

    function currentRoundStartBlock() external view returns (uint256) {
        return currentRound() * roundLength;
    }

    function currentRoundInitialized() external view returns (bool) {
        return roundInitialized[currentRound()];
    }

    /// @notice The block hash recorded when `_round` was initialized, or zero if it never was.
    function blockHashForRound(uint256 _round) external view returns (bytes32) {
        return roundBlockHashes[_round];
    }

    function initializeRound() external whenSystemNotPaused {
        uint256 round = currentRound();
        require(!roundInitialized[round], "round already initialized");

        bytes32 hash = blockhash(block.number - 1);
        roundInitialized[round] = true;
        roundBlockHashes[round] = hash;
        lastInitializedRound = round;

        _bondingManager().setCurrentRoundTotalActiveStake();
        _minter().setCurrentRewardTokens();

        emit NewRound(round, hash);
    }
}
